"""manage.py pushtest USER_TOKEN against the FCM and APNs stand-ins."""

import io
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from messaging.models import Delivery, Message
from tests.people import make_person
from tests.delivery_fixtures import fake_env
from tests.procs import base_env, database_url_for
from users_app.models import Device

pytestmark = pytest.mark.django_db


def pushtest(*args):
    out = io.StringIO()
    try:
        call_command("pushtest", *args, stdout=out)
        return 0, out.getvalue()
    except CommandError as exc:
        return 1, out.getvalue() + str(exc)


def two_device_person(ios_token="cd" * 32):
    person = make_person(push_token="fcm-pushtest")
    Device.objects.create(user=person.user, platform=Device.IOS, push_token=ios_token)
    return person


def test_it_pushes_to_every_device_and_prints_each_answer(push_settings, fcm, apns):
    person = two_device_person()
    code, output = pushtest(person.token)
    assert code == 0, output
    assert [p["token"] for p in fcm.script.pushes] == ["fcm-pushtest"]
    assert [p["token"] for p in apns.script.pushes] == ["cd" * 32]
    assert "(android, fcm): accepted projects/" in output
    assert "(ios, apns): accepted" in output
    assert not Message.objects.exists() and not Delivery.objects.exists()  # nothing stored, nothing in the inbox


def test_a_refused_device_makes_it_exit_non_zero_with_the_providers_answer(push_settings, fcm, apns):
    person = two_device_person()
    apns.script.set_outcomes("cd" * 32, ["unregistered"])
    code, output = pushtest(person.token)
    assert code == 1
    assert "(android, fcm): accepted" in output
    assert "(ios, apns): invalid_token, APNs 410 Unregistered" in output
    assert "1 of 2 device(s) refused" in output


def test_an_inactive_device_is_skipped_and_said(push_settings, fcm, apns):
    person = two_device_person()
    Device.objects.filter(user=person.user, platform=Device.IOS).update(is_active=False, deactivation_reason="gone")
    code, output = pushtest(person.token)
    assert code == 0
    assert "(ios): skipped, gone" in output
    assert apns.script.pushes == []


def test_an_unknown_user_token_is_an_error(push_settings):
    code, output = pushtest("u_" + "0" * 40)
    assert code == 1 and "No user" in output


def test_the_command_exits_1_from_the_shell(transactional_db, fcm, apns, tmp_path):
    person = make_person(push_token="fcm-pushtest-shell")
    fcm.script.set_outcomes("fcm-pushtest-shell", ["invalid_argument"])
    env = base_env(DATABASE_URL=database_url_for(), REDIS_URL=settings.REDIS_URL, KILOPUSH_VAR_DIR=tmp_path,
                   **fake_env(fcm, apns))
    done = subprocess.run([sys.executable, "manage.py", "pushtest", person.token], cwd=settings.BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "(android, fcm): rejected, FCM 400 INVALID_ARGUMENT" in done.stdout
