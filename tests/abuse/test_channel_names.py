"""Channel names cannot hide, reorder or fake text (issue 16, item 6)."""

import re

import pytest

from channels_app.models import Channel
from channels_app.names import NAME_PATTERN
from channels_app.services import channel_create
from kilopush.errors import InvalidValue
from tests.app_api import call, openapi
from tests.helpers import status_of

pytestmark = pytest.mark.django_db

SPOOFS = [
    "Bank\u202egnp.exe",  # right-to-left override
    "Bank\u2066x\u2069",  # isolates
    "Pay\u200bPal",  # zero-width space
    "Pay\u200dPal",  # zero-width joiner
    "\ufeffBank",  # byte order mark
    "Bank\u00adPal",  # soft hyphen
    "Bank\U000e0041",  # tag character
    "line\u2028break",  # line separator
    "para\u2029break",  # paragraph separator
    "\u3164",  # Hangul filler
    "\u3164\u3164 \u3164",
    "\u2800\u2800",  # braille blank
    "\ufe0f",  # a variation selector alone
    "\u115f\u1160",
]


@pytest.mark.parametrize("name", SPOOFS)
def test_the_app_api_refuses_a_spoofing_name(client, alice, name):
    response = call(client, "POST", "/v1/app/channels", alice, {"name": name})
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert not Channel.objects.exists()


@pytest.mark.parametrize("name", SPOOFS)
def test_a_rename_to_a_spoofing_name_is_refused(client, alice, name):
    token = call(client, "POST", "/v1/app/channels", alice, {"name": "Bank"}).json()["token"]
    response = call(client, "PATCH", f"/v1/app/channels/{token}", alice, {"name": name})
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert Channel.objects.get().name == "Bank"


@pytest.mark.parametrize("name", SPOOFS)
def test_the_service_refuses_it_too(alice, name):
    with pytest.raises(InvalidValue):
        channel_create(owner=alice.user, name=name)


@pytest.mark.parametrize("name", ["Alice's alarms", "Дверь", "ドア 🔔", "مرحبا", "x\u0301", "A  B", "🇫🇷 Météo"])
def test_ordinary_names_are_accepted(client, alice, name):
    assert call(client, "POST", "/v1/app/channels", alice, {"name": name}).status_code == 201


def test_the_schema_says_so():
    schema = openapi()["components"]["schemas"]["ChannelCreateJSONRequest"]["properties"]["name"]
    pattern = re.compile(schema["pattern"])
    assert pattern.search("Alice's alarms")
    for name in SPOOFS:
        if max(map(ord, name)) <= 0xFFFF:  # the schema's pattern stops at U+FFFF
            assert not pattern.search(name), repr(name)
    assert schema["pattern"] == NAME_PATTERN
