"""Property tests: the send request validator and the daily-limit counter."""

import datetime
import json
from urllib.parse import urlencode

from django.test import RequestFactory, override_settings
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from channels_app.quota import channel_take_daily_quota
from channels_app.services import channel_create
from kilopush.errors import ApiError
from messaging.send import request as send_request
from tests.people import make_person

factory = RequestFactory()
# Text a client can send: any Unicode scalar value but NUL (refused: PostgreSQL text cannot
# hold it) and lone surrogates (UTF-8 cannot carry them).
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=1000)
CONTENT_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-8",
    "text/plain",
    "",
    "multipart/form-data; boundary=x",
    "application/json; charset=bogus",
]


def parse(body, content_type):
    request = factory.generic("POST", "/v1/messages/send", body, content_type=content_type)
    return send_request.validate(send_request.decode_body(request))


def base_fields(message):
    return {"to": "u_" + "1" * 40, "token": "c_" + "2" * 40, "secret": "3" * 64, "message": message}


@given(message=texts)
def test_any_valid_message_survives_json(message):
    assert parse(json.dumps(base_fields(message)), "application/json").message == message


@given(message=texts)
def test_any_valid_message_survives_a_form(message):
    assert parse(urlencode(base_fields(message)), "application/x-www-form-urlencoded").message == message


@given(message=st.text(min_size=1001, max_size=1500))
def test_any_message_over_1000_characters_is_refused(message):
    try:
        parse(json.dumps(base_fields(message)), "application/json")
    except ApiError as exc:
        assert exc.status == 4005
    else:
        raise AssertionError("accepted a message over 1000 characters")


@given(body=st.binary(max_size=300), content_type=st.sampled_from(CONTENT_TYPES))
def test_junk_bytes_give_4000_or_4005_and_nothing_else(body, content_type):
    try:
        parse(body, content_type)
    except ApiError as exc:
        assert exc.status in (4000, 4005)


@given(
    data=st.dictionaries(
        st.sampled_from(["to", "token", "secret", "message", "url", "important", "silent", "other"]),
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20) | st.lists(st.integers(), max_size=2),
    )
)
def test_junk_json_values_give_4005_or_a_valid_request(data):
    try:
        result = parse(json.dumps(data), "application/json")
    except ApiError as exc:
        assert exc.status == 4005
    else:
        assert all(isinstance(getattr(result, f), str) and getattr(result, f) for f in ("to", "token", "secret", "message"))
        assert result.important in (None, True, False)


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(min_value=1, max_value=20), attempts=st.integers(min_value=0, max_value=40))
def test_the_counter_accepts_exactly_min_of_attempts_and_limit(db, limit, attempts):
    owner = make_person().user
    channel = channel_create(owner=owner, name="c")
    now = datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.timezone.utc)
    with override_settings(CHANNEL_DAILY_LIMIT=limit):
        results = [channel_take_daily_quota(channel_id=channel.pk, now=now) for _ in range(attempts)]
    accepted = [r for r in results if r is not None]
    assert accepted == list(range(1, min(attempts, limit) + 1))
    assert results[len(accepted):] == [None] * (attempts - len(accepted))
