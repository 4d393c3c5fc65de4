"""Linking another browser or phone: POST /v1/app/link-codes and POST /v1/app/link."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.app_api import call
from tests.helpers import status_of
from users_app.models import AccessToken, AppUser, LinkCode
from users_app.services import app_user_set_blocked, link_code_create

pytestmark = pytest.mark.django_db


def new_code(client, person, **extra):
    return call(client, "POST", "/v1/app/link-codes", **person.auth, **extra)


def link(client, code, **extra):
    return call(client, "POST", "/v1/app/link", body={"code": code}, **extra)


def me(client, access_token):
    return call(client, "GET", "/v1/app/me", HTTP_AUTHORIZATION=f"Bearer {access_token}")


def test_a_link_code_lasts_ten_minutes(client, alice):
    response = new_code(client, alice)
    assert response.status_code == 201
    body = response.json()
    expires_at = timezone.datetime.fromisoformat(body["expires_at"])
    assert timedelta(minutes=9, seconds=50) < expires_at - timezone.now() <= timedelta(minutes=10)
    assert len(body["code"]) == 10


def test_a_link_code_needs_the_access_token(client):
    response = call(client, "POST", "/v1/app/link-codes")
    assert response.status_code == 401
    assert status_of(response) == 4001


def test_linking_gives_a_new_access_token_to_the_same_account(client, alice):
    code = new_code(client, alice).json()["code"]
    response = link(client, code)
    assert response.status_code == 201
    body = response.json()
    assert body["user_token"] == alice.token
    assert body["access_token"] != alice.access_token
    assert me(client, body["access_token"]).json()["user_token"] == alice.token
    assert me(client, alice.access_token).status_code == 200  # the first device stays signed in
    assert AccessToken.objects.filter(user=alice.user).count() == 2


def test_a_typed_code_may_differ_in_case_spaces_and_dashes(client, alice):
    code = new_code(client, alice).json()["code"]
    typed = f" {code[:5].lower()}-{code[5:]} "
    assert link(client, typed).json()["user_token"] == alice.token


def answer(response):
    return response.status_code, response.json()


def test_wrong_used_and_expired_codes_get_the_same_answer(client, alice):
    used = new_code(client, alice).json()["code"]
    assert link(client, used).status_code == 201
    expired, _ = link_code_create(user=alice.user, now=timezone.now() - timedelta(minutes=10, seconds=1))
    answers = [answer(link(client, code)) for code in (used, expired, "ABCDEFGHJK")]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 400
    assert answers[0][1]["response"]["status"] == 4005
    assert AccessToken.objects.filter(user=alice.user).count() == 2


@pytest.mark.parametrize("body", [{}, {"code": 12}, {"code": "x" * 65}, {"code": None}])
def test_it_refuses_a_malformed_body(client, body):
    response = call(client, "POST", "/v1/app/link", body=body)
    assert response.status_code == 400
    assert status_of(response) == 4005


def test_linking_is_throttled_like_registration(client, alice, settings):
    settings.APP_LINK_RATE = "3/h"
    for _ in range(3):
        assert link(client, "WRONGWRONG").status_code == 400
    code = new_code(client, alice).json()["code"]
    response = link(client, code)
    assert response.status_code == 429
    assert status_of(response) == 4029
    assert int(response["Retry-After"]) >= 1


def test_deleting_the_account_revokes_every_access_token(client, alice):
    linked = link(client, new_code(client, alice).json()["code"]).json()["access_token"]
    assert call(client, "DELETE", "/v1/app/me", HTTP_AUTHORIZATION=f"Bearer {linked}").status_code == 204
    for token in (alice.access_token, linked):
        assert me(client, token).status_code == 401
    assert not AccessToken.objects.exists()
    assert not LinkCode.objects.exists()
    assert not AppUser.objects.filter(pk=alice.user.pk).exists()


def test_a_code_of_a_deleted_account_links_nothing(client, alice):
    code = new_code(client, alice).json()["code"]
    call(client, "DELETE", "/v1/app/me", **alice.auth)
    assert link(client, code).status_code == 400


def preview(client, code, **extra):
    return call(client, "POST", "/v1/app/link/preview", body={"code": code}, **extra)


def test_a_preview_shows_only_the_last_4_characters_of_the_user_token(client, alice):
    code = new_code(client, alice).json()["code"]
    response = preview(client, code)
    assert response.status_code == 200
    assert response.json() == {"user_token_last4": alice.token[-4:]}
    assert alice.token[:-4] not in response.content.decode()


def test_a_preview_stores_nothing_and_leaves_the_code_usable(client, alice):
    code = new_code(client, alice).json()["code"]
    tokens = set(AccessToken.objects.values_list("pk", "digest", "last_used_at"))
    for _ in range(3):
        assert preview(client, code.lower()).status_code == 200
    assert set(AccessToken.objects.values_list("pk", "digest", "last_used_at")) == tokens
    assert LinkCode.objects.get().used_at is None
    assert link(client, code).status_code == 201


def test_a_preview_of_a_wrong_used_or_expired_code_gets_the_links_answer(client, alice):
    used = new_code(client, alice).json()["code"]
    link(client, used)
    expired, _ = link_code_create(user=alice.user, now=timezone.now() - timedelta(minutes=10, seconds=1))
    answers = [answer(preview(client, code)) for code in (used, expired, "ABCDEFGHJK")]
    assert answers[0] == answers[1] == answers[2] == answer(link(client, "ABCDEFGHJK"))


def test_previews_count_against_the_link_throttle(client, alice, settings):
    settings.APP_LINK_RATE = "3/h"
    code = new_code(client, alice).json()["code"]
    for _ in range(3):
        assert preview(client, code).status_code == 200
    for response in (preview(client, code), link(client, code)):
        assert (response.status_code, status_of(response)) == (429, 4029)


def test_link_codes_are_throttled_per_account(client, alice, settings):
    settings.APP_LINK_CODE_RATE = "3/h"
    for number in range(3):
        assert new_code(client, alice, REMOTE_ADDR=f"198.51.100.{number}").status_code == 201
    response = new_code(client, alice, REMOTE_ADDR="198.51.100.9")
    assert (response.status_code, status_of(response)) == (429, 4029)
    assert int(response["Retry-After"]) >= 1
    assert LinkCode.objects.count() == 3


def test_link_codes_are_throttled_per_client_address(client, alice, bob, charlie, settings):
    settings.APP_LINK_CODE_RATE = "3/h"
    for person in (alice, bob, charlie):
        assert new_code(client, person).status_code == 201
    response = new_code(client, alice)
    assert (response.status_code, status_of(response)) == (429, 4029)


def test_the_default_throttle_is_10_an_hour(client, alice):
    answers = [new_code(client, alice).status_code for _ in range(11)]
    assert answers == [201] * 10 + [429]


def test_an_account_keeps_at_most_5_live_codes(client, alice):
    codes = [new_code(client, alice).json()["code"] for _ in range(7)]
    assert LinkCode.objects.filter(user=alice.user, used_at=None).count() == 5
    assert [preview(client, code).status_code for code in codes] == [400, 400] + [200] * 5
    assert link(client, codes[0]).status_code == 400
    assert link(client, codes[-1]).status_code == 201


@pytest.mark.parametrize("rate, ok", [("ten an hour", False), ("10/hour", False), ("10", False), ("3/5m", True)])
def test_a_link_code_rate_that_is_not_a_rate_stops_start_up(tmp_path, rate, ok):
    env = {**os.environ, "APP_LINK_CODE_RATE": rate, "KILOPUSH_VAR_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    run = subprocess.run(
        [sys.executable, "-c", "import kilopush.settings as s; print(s.APP_LINK_CODE_RATE)"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    if ok:
        assert (run.returncode, run.stdout.strip()) == (0, rate), run.stderr
    else:
        assert run.returncode != 0 and "APP_LINK_CODE_RATE must be a rate" in run.stderr


def test_a_preview_of_a_blocked_accounts_code_is_4023_like_the_link(client, alice):
    code = new_code(client, alice).json()["code"]
    app_user_set_blocked(user=alice.user, blocked=True)
    response = preview(client, code)
    assert (response.status_code, status_of(response)) == (403, 4023)
    assert LinkCode.objects.get().used_at is None
