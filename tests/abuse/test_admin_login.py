"""Admin login: failed attempts throttled per address and per username, and logged (issue 16, item 9)."""

import logging

import pytest
from django.contrib.auth.models import User
from django.test import Client

PASSWORD = "the right staff password"


@pytest.fixture
def staff(db):
    return User.objects.create_user("root", "root@example.com", PASSWORD, is_staff=True, is_superuser=True)


def login(client, username, password, addr="203.0.113.5"):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password},
                       REMOTE_ADDR=addr)


def logged_in(client):
    return client.get("/admin/").status_code == 200


def test_forty_wrong_passwords_then_the_right_one_is_refused(staff):
    client = Client()
    for i in range(40):
        login(client, "root", f"guess {i}")
    response = login(client, "root", PASSWORD)
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert not logged_in(client)


def test_failures_are_counted_per_username_across_addresses(staff, settings):
    settings.ADMIN_LOGIN_FAILURE_RATE_PER_USERNAME = "3/h"
    for i in range(3):
        assert login(Client(), "ROOT", "guess", addr=f"198.51.100.{i}").status_code == 200
    client = Client()
    assert login(client, "root", PASSWORD, addr="192.0.2.99").status_code == 429
    assert not logged_in(client)


def test_failures_are_counted_per_address_across_usernames(staff, settings):
    settings.ADMIN_LOGIN_FAILURE_RATE_PER_ADDRESS = "3/h"
    for name in ("admin", "administrator", "staff"):
        login(Client(), name, "guess")
    client = Client()
    assert login(client, "root", PASSWORD).status_code == 429
    other = Client()
    assert login(other, "root", PASSWORD, addr="192.0.2.7").status_code == 302
    assert logged_in(other)


def test_successful_logins_are_not_counted(staff, settings):
    settings.ADMIN_LOGIN_FAILURE_RATE_PER_ADDRESS = "2/h"
    settings.ADMIN_LOGIN_FAILURE_RATE_PER_USERNAME = "2/h"
    for _ in range(4):
        client = Client()
        assert login(client, "root", PASSWORD).status_code == 302
        assert logged_in(client)


def test_a_failed_staff_login_is_logged(staff, caplog):
    with caplog.at_level(logging.WARNING, logger="kilopush.admin"):
        login(Client(), "root", "guess")
    assert "Failed staff login for 'root' from 203.0.113.5" in caplog.text


def test_the_login_page_still_shows(db):
    response = Client().get("/admin/login/")
    assert response.status_code == 200
    assert b'name="password"' in response.content
