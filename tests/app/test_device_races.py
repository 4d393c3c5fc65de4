"""Several accounts registering one push token or endpoint at once (issue 23, item 10).

Real concurrency against PostgreSQL: threads, each with its own database connection, post through
the test client at the same moment. No answer may be a 5xx, and exactly one account holds the token.
"""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from tests.app.test_app_devices import browser_keys
from tests.people import make_person
from users_app.models import Device

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNTS = 8
REQUESTS = 40


def post_all_at_once(people, path, body_for, method="POST"):
    """Sends body_for(i) as people[i % len(people)], all threads released together; the status codes."""
    barrier = threading.Barrier(REQUESTS)

    def post(i):
        person = people[i % len(people)]
        try:
            barrier.wait(timeout=30)
            response = Client().generic(method, path, json.dumps(body_for(i)), content_type="application/json",
                                        HTTP_AUTHORIZATION=f"Bearer {person.access_token}")
            return response.status_code
        finally:
            connection.close()  # this thread's own connection

    with ThreadPoolExecutor(REQUESTS) as pool:
        return list(pool.map(post, range(REQUESTS)))


def put_all_at_once(people, token):
    return post_all_at_once(people, "/v1/app/device", lambda i: {"platform": "android", "push_token": token}, "PUT")


@pytest.fixture
def people():
    return [make_person() for _ in range(ACCOUNTS)]


def test_one_fcm_token_posted_by_many_accounts_at_once_has_one_holder(people):
    token = "fcm-contested-token"
    codes = post_all_at_once(people, "/v1/app/devices", lambda i: {"platform": "android", "push_token": token})
    assert [c for c in codes if c >= 500] == []
    assert set(codes) <= {200, 201}
    assert Device.objects.filter(push_token=token).count() == 1


def test_one_web_endpoint_posted_by_many_accounts_at_once_has_one_holder(people, settings):
    endpoint = "https://updates.push.services.mozilla.com/wpush/v2/contested"
    keys = browser_keys()
    body = {"platform": "web", "subscription": {"endpoint": endpoint, "expirationTime": None, "keys": keys}}
    codes = post_all_at_once(people, "/v1/app/devices", lambda i: body)
    assert [c for c in codes if c >= 500] == []
    assert set(codes) <= {200, 201}
    assert Device.objects.filter(push_token=endpoint).count() == 1


def test_new_accounts_registering_one_token_at_once_leave_one_holder(people, settings):
    settings.APP_REGISTER_RATE = "1000/h"
    token = "fcm-contested-at-signup"
    codes = post_all_at_once(people, "/v1/app/register", lambda i: {"platform": "android", "push_token": token})
    assert [c for c in codes if c >= 500] == []
    assert set(codes) == {201}
    assert Device.objects.filter(push_token=token).count() == 1


def test_one_token_put_by_many_accounts_at_once_has_one_holder(people):
    token = "fcm-contested-by-put"
    codes = put_all_at_once(people, token)
    assert [c for c in codes if c >= 500] == []
    assert Device.objects.filter(push_token=token).count() == 1
