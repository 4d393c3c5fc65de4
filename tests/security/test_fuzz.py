"""schemathesis against GET /v1/schema: no 5xx, and every answer matches the schema.

The fuzzer calls the Django WSGI application in-process, authenticated as a real user
(alice) who owns a channel, has messages in her inbox and a channel on her blacklist,
so it gets past 401 and 404. In schema-valid ("positive") examples, path parameters,
the send API's credentials and logo files are half of the time replaced with real ones,
so the fuzzer also reaches the code behind a successful lookup. Each example runs in a
savepoint that is rolled back: every example sees the same valid database (a
DELETE /v1/app/me included). The run is derandomized with a fixed seed.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from kilopush.wsgi import application  # the send API on its own middleware chain, as gunicorn serves it
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance

from channels_app.services import channel_create
from messaging.send.request import SendRequest
from messaging.send.service import message_send
from tests.people import make_person
from users_app.services import blacklist_add, link_code_create

MAX_EXAMPLES = 50
SEED = 20260707
SEND_PATH = "/v1/messages/send"
# The sender's other endpoints: {token, secret, id} of one of the channel's messages.
MESSAGE_PATHS = ("/v1/messages/status", "/v1/messages/withdraw")
LINK_PATHS = ("/v1/app/link", "/v1/app/link/preview")

# Loaded once at collection (making the schema needs no database); one test per operation.
schema = schemathesis.openapi.from_wsgi("/v1/schema", application)
schema.config.seed = SEED
# Unknown query parameters and fields are ignored by design ("Unknown fields are ignored"), not refused.
schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, allow_extra_parameters=False)


@pytest.fixture
def world(db, settings, tmp_path):
    # The fuzzer makes hundreds of requests from one address: the per-address throttles
    # are tested elsewhere and must not turn its answers into 4029s here.
    settings.APP_REGISTER_RATE = "100000/h"
    settings.APP_CHANNEL_CREATE_RATE = "100000/h"
    settings.APP_LINK_RATE = "100000/h"
    settings.APP_LOGO_UPDATE_RATE = "100000/h"
    settings.SEND_AUTH_FAILURE_RATE = "100000/m"
    settings.MEDIA_ROOT = tmp_path / "media"
    alice, bob, charlie = make_person(), make_person(), make_person(platform="ios")
    own = channel_create(owner=alice.user, name="Alice's alarms")
    incoming = channel_create(owner=bob.user, name="Bob's bell")
    spam = channel_create(owner=charlie.user, name="Spam")
    blacklist_add(user=alice.user, channel=spam)
    message_ids = [
        message_send(request=SendRequest(to=alice.token, token=incoming.token, secret=incoming.secret, message=text))[0]
        for text in ("one", "two", "three")
    ]
    own_message = message_send(request=SendRequest(to=alice.token, token=own.token, secret=own.secret, message="own"))[0]
    return {
        "auth": {"Authorization": f"Bearer {alice.access_token}"},
        "own_message": {"token": own.token, "secret": own.secret, "id": str(own_message)},
        "path": {"token": own.token, "message_id": message_ids[-1], "device_id": alice.user.devices.get().pk},
        "blocked_path": {"token": spam.token},
        "send": {"to": alice.token, "token": own.token, "secret": own.secret},
        "link": {"code": link_code_create(user=alice.user)[0]},  # each example rolls its use back
    }


@pytest.fixture
def in_process_requests():
    # As in Django's test client: a request must not close the test's connection (and its transaction).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def unverifiable_by_the_schema(case, real):
    """Schema-valid bodies the API must refuse: the schema cannot tell these apart from good ones."""
    if case.path in (SEND_PATH, *MESSAGE_PATHS) and not real:
        return True  # made-up token and secret (or message id): the published contract answers 4003 with HTTP 400
    if case.path in LINK_PATHS and not real:
        return True  # a made-up link code: 4005, as for a used or expired one
    if case.path.endswith("/keys") and isinstance(case.body, dict) and "to" in case.body and not real:
        return True  # a made-up User Token for a send key: 4005, as the issue asks
    # A Web Push subscription: its endpoint must be on a push service (WEBPUSH_ENDPOINT_HOSTS) and p256dh a
    # point on P-256; made-up ones are refused (4005) by design.
    if isinstance(case.body, dict) and case.body.get("platform") == "web" and "subscription" in case.body:
        return True
    # A webhook_url (issue 24) must resolve to public addresses when saved: not for a schema to say.
    if isinstance(case.body, dict) and case.body.get("webhook_url"):
        return True
    # A form's `actions` (issue 24) is a JSON array in a string: the schema cannot say which strings parse.
    if case.path == SEND_PATH and isinstance(case.body, dict) and "actions" in case.body \
            and not (case.media_type or "").startswith("application/json"):
        return True
    # A send's `at` (issue 24) must be a time from now to 30 days ahead: not for a schema to say.
    if case.path == SEND_PATH and isinstance(case.body, dict) and case.body.get("at") not in (None, ""):
        return True
    # A logo file: the schema says "binary"; an image the server can decode is not for it to say.
    return (case.media_type or "").startswith("multipart/") and isinstance(case.body, dict) and "logo" in case.body


def with_real_objects(case, world):
    """Points a schema-valid case at alice's real objects: path ids and tokens, the send API's credentials."""
    if case.path_parameters:
        real = world["blocked_path"] if case.path.startswith("/v1/app/blocked/") else world["path"]
        case.path_parameters = {name: real.get(name, value) for name, value in case.path_parameters.items()}
    if case.path == SEND_PATH and isinstance(case.body, dict):
        case.body = {**case.body, **world["send"]}
        if case.body.get("replace") not in (None, ""):
            case.body["replace"] = world["own_message"]["id"]  # one of the channel's messages to alice
    if case.path in MESSAGE_PATHS and isinstance(case.body, dict):
        case.body = {**case.body, **world["own_message"]}
    if case.path in LINK_PATHS and isinstance(case.body, dict):
        case.body = {**case.body, **world["link"]}
    if case.path.endswith("/keys") and isinstance(case.body, dict) and "to" in case.body:
        case.body = {**case.body, "to": world["send"]["to"]}


@schema.parametrize()
@schema.given(real=st.booleans())
# The fixtures hold the real objects; each example rolls its changes back, so sharing them is safe.
# No explicit phase: the schema's examples (for /docs) cannot fill `real`; tests/app/test_app_schema.py checks them.
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
          phases=[phase for phase in Phase if phase is not Phase.explicit])
def test_the_api_answers_as_its_schema_says(case, real, world, in_process_requests):
    if real and case.meta.generation.mode.is_positive:
        with_real_objects(case, world)
    excluded = [positive_data_acceptance] if unverifiable_by_the_schema(case, real) else []
    with transaction.atomic():
        case.call_and_validate(headers=world["auth"], excluded_checks=excluded)
        transaction.set_rollback(True)
