"""Sessions: GET /v1/app/sessions, DELETE /v1/app/sessions/ID and DELETE /v1/app/sessions/current."""

from datetime import timedelta

import pytest
from django.utils import timezone

from kilopush.errors import NotAuthenticated
from tests.app_api import call
from tests.helpers import status_of
from tests.people import Person
from users_app.models import AccessToken
from users_app.services import access_token_create, app_user_set_blocked, session_revoke
from users_app.session_labels import session_label

pytestmark = pytest.mark.django_db

CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0"


def sessions(client, person):
    response = call(client, "GET", "/v1/app/sessions", person)
    assert response.status_code == 200
    return response.json()["sessions"]


def linked(client, person, user_agent=CHROME_LINUX):
    """A second browser of the person's account, linked through the API with this User-Agent."""
    code = call(client, "POST", "/v1/app/link-codes", person).json()["code"]
    body = call(client, "POST", "/v1/app/link", body={"code": code}, HTTP_USER_AGENT=user_agent).json()
    return Person(user=person.user, access_token=body["access_token"])


def me(client, person):
    return call(client, "GET", "/v1/app/me", person)


def test_the_list_has_every_session_and_marks_the_current_one(client, alice):
    laptop = linked(client, alice)
    listed = sessions(client, laptop)
    assert [s["current"] for s in listed] == [False, True]
    assert listed[1]["label"] == "Chrome on Linux"
    assert set(listed[0]) == {"id", "created_at", "last_used_at", "label", "current"}
    assert [s["current"] for s in sessions(client, alice)] == [True, False]


def test_the_list_never_shows_a_token(client, alice):
    laptop = linked(client, alice)
    response = call(client, "GET", "/v1/app/sessions", alice)
    text = response.content.decode()
    assert alice.access_token not in text and laptop.access_token not in text
    for digest in AccessToken.objects.values_list("digest", flat=True):
        assert digest not in text


def test_the_list_shows_only_the_accounts_own_sessions(client, alice, bob):
    linked(client, bob)
    assert len(sessions(client, alice)) == 1


def test_a_registration_is_labelled_from_its_user_agent(client):
    body = call(client, "POST", "/v1/app/register", body={"platform": "web"}, HTTP_USER_AGENT=FIREFOX_ANDROID).json()
    person = Person(user=None, access_token=body["access_token"])
    assert sessions(client, person)[0]["label"] == "Firefox on Android"


def test_an_app_without_a_browser_user_agent_is_labelled_by_its_platform(client):
    body = call(client, "POST", "/v1/app/register", body={"platform": "ios", "push_token": "ab" * 32},
                HTTP_USER_AGENT="KiloPush/3 CFNetwork/1490 Darwin/23.2.0").json()
    assert sessions(client, Person(user=None, access_token=body["access_token"]))[0]["label"] == "iOS app"


@pytest.mark.parametrize("user_agent, platform, label", [
    (CHROME_LINUX, "web", "Chrome on Linux"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36 Edg/131.0.0.0", "", "Edge on Windows"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Mobile/15E148 Safari/604.1", "", "Safari on iPhone"),
    ("okhttp/4.12.0", "android", "Android app"),
    ("curl/8.5.0", "", "curl"),
    ("", "", ""),
    ("\x00\x01<script>", "", ""),
])
def test_session_labels(user_agent, platform, label):
    assert session_label(user_agent, platform) == label


def test_the_last_use_is_recorded_at_most_once_a_minute(client, alice):
    token = AccessToken.objects.get(user=alice.user)
    long_ago = timezone.now() - timedelta(hours=3)
    AccessToken.objects.filter(pk=token.pk).update(last_used_at=long_ago)
    me(client, alice)
    token.refresh_from_db()
    assert timezone.now() - token.last_used_at < timedelta(seconds=30)
    first = token.last_used_at
    me(client, alice)
    token.refresh_from_db()
    assert token.last_used_at == first


def test_revoking_a_session_makes_its_token_answer_401_at_once(client, alice):
    laptop = linked(client, alice)
    laptop_id = next(s["id"] for s in sessions(client, laptop) if s["current"])
    response = call(client, "DELETE", f"/v1/app/sessions/{laptop_id}", alice)
    assert response.status_code == 204
    response = me(client, laptop)
    assert (response.status_code, status_of(response)) == (401, 4001)
    assert me(client, alice).status_code == 200
    assert [s["current"] for s in sessions(client, alice)] == [True]


def test_the_current_session_cannot_be_revoked_by_id(client, alice):
    linked(client, alice)
    current = next(s["id"] for s in sessions(client, alice) if s["current"])
    response = call(client, "DELETE", f"/v1/app/sessions/{current}", alice)
    assert (response.status_code, status_of(response)) == (403, 4003)
    assert me(client, alice).status_code == 200


def test_another_accounts_session_answers_like_a_missing_one(client, alice, bob):
    bobs = AccessToken.objects.get(user=bob.user).pk
    theirs = call(client, "DELETE", f"/v1/app/sessions/{bobs}", alice)
    missing = call(client, "DELETE", f"/v1/app/sessions/{2**40}", alice)
    huge = call(client, "DELETE", f"/v1/app/sessions/{2**70}", alice)
    assert (theirs.status_code, status_of(theirs)) == (404, 4004)
    assert theirs.json() == missing.json() == huge.json()
    assert me(client, bob).status_code == 200


def test_signing_out_the_current_session(client, alice):
    laptop = linked(client, alice)
    assert call(client, "DELETE", "/v1/app/sessions/current", laptop).status_code == 204
    assert me(client, laptop).status_code == 401
    assert me(client, alice).status_code == 200


def test_the_last_session_cannot_sign_out(client, alice):
    response = call(client, "DELETE", "/v1/app/sessions/current", alice)
    assert (response.status_code, status_of(response)) == (403, 4003)
    assert me(client, alice).status_code == 200


def test_sessions_need_the_access_token(client, alice):
    for method, path in (("GET", "/v1/app/sessions"), ("DELETE", "/v1/app/sessions/current")):
        response = call(client, method, path)
        assert (response.status_code, status_of(response)) == (401, 4001)


def test_a_blocked_account_may_still_sign_out_a_lost_browser(client, alice):
    lost = Person(user=alice.user, access_token=access_token_create(user=alice.user))
    app_user_set_blocked(user=alice.user, blocked=True)
    lost_id = next(s["id"] for s in sessions(client, alice) if not s["current"])
    assert call(client, "DELETE", f"/v1/app/sessions/{lost_id}", alice).status_code == 204
    assert me(client, lost).status_code == 401


def test_a_session_signed_out_meanwhile_cannot_sign_out_the_other(client, alice):
    """Two browsers signing each other out at once (serialised on the account's row): one of them stays."""
    laptop = linked(client, alice)
    phone_session = AccessToken.objects.get(user=alice.user, label="")
    laptop_session = AccessToken.objects.get(user=alice.user, label="Chrome on Linux")
    assert session_revoke(user=alice.user, session_id=laptop_session.pk, current=phone_session)
    with pytest.raises(NotAuthenticated):
        session_revoke(user=alice.user, session_id=phone_session.pk, current=laptop_session)
    assert me(client, alice).status_code == 200
    assert me(client, laptop).status_code == 401
