"""Throttles count an IPv6 client by its /64 and an IPv4-mapped address as IPv4 (issue 16, item 7)."""

import pytest
from django.test import override_settings

from kilopush.net import throttle_key_of
from tests.app_api import call
from tests.helpers import status_of


def register(client, addr):
    return call(client, "POST", "/v1/app/register", body={"platform": "web"}, REMOTE_ADDR=addr)


@pytest.mark.parametrize(
    "address, key",
    [
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("::ffff:c633:6407", "198.51.100.7"),
        ("198.51.100.7", "198.51.100.7"),
        ("fe80::1%eth0", "fe80::/64"),
        ("not an address", "not an address"),
    ],
)
def test_the_throttle_key_of(address, key):
    assert throttle_key_of(address) == key


def test_addresses_of_one_ipv6_64_share_a_registration_budget(client, db, settings):
    settings.APP_REGISTER_RATE = "2/h"
    assert register(client, "2001:db8:0:1::1").status_code == 201
    assert register(client, "2001:db8:0:1::2").status_code == 201
    response = register(client, "2001:db8:0:1:ffff:ffff:ffff:fffe")
    assert response.status_code == 429 and status_of(response) == 4029
    assert register(client, "2001:db8:0:2::1").status_code == 201  # another /64


def test_an_ipv4_mapped_address_shares_the_ipv4_budget(client, db, settings):
    settings.APP_REGISTER_RATE = "1/h"
    assert register(client, "198.51.100.7").status_code == 201
    assert register(client, "::ffff:198.51.100.7").status_code == 429


@override_settings(SEND_AUTH_FAILURE_RATE="5/m")
def test_failed_sends_from_one_64_ban_the_whole_64(send, valid_fields):
    for i in range(5):
        assert status_of(send({**valid_fields, "secret": "guess"}, REMOTE_ADDR=f"2001:db8:7:7::{i + 1:x}")) == 4003
    assert status_of(send(valid_fields, REMOTE_ADDR="2001:db8:7:7:abcd::1")) == 4029
    assert status_of(send(valid_fields, REMOTE_ADDR="2001:db8:7:8::1")) == 200
