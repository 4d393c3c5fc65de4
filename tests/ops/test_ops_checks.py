"""Configuration checks (kilopush.E0xx / W0xx): `manage.py check`, and refusing to start with an error."""

import json
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings as django_settings
from django.core.checks.registry import registry

from channels_app.models import Channel
from tests.delivery_fixtures import fake_env
from tests.procs import Process, base_env, database_url_for, free_port, start_gunicorn


def ids():
    return sorted(issue.id for issue in registry.run_checks(tags=["kilopush"]) if issue.id.startswith("kilopush."))


def issue(check_id):
    [found] = [i for i in registry.run_checks(tags=["kilopush"]) if i.id == check_id]
    return found


def pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture
def quiet(settings):
    """A configuration with nothing to complain about."""
    for name in ("FCM_CREDENTIALS", "APNS_KEY", "APNS_KEY_ID", "APNS_TEAM_ID", "APNS_TOPIC", "SITE_URL"):
        setattr(settings, name, "")
    settings.VAPID_PRIVATE_KEY = ""
    settings.CSRF_TRUSTED_ORIGINS = []
    settings.MEDIA_ROOT_SHARED = True  # kilopush.W030 (tests/nodes/test_nodes_media.py)
    return settings


@pytest.mark.django_db
def test_a_quiet_configuration_has_no_issue(quiet):
    assert ids() == []


@pytest.mark.django_db
def test_the_stand_ins_configuration_has_no_issue(quiet, fcm, apns):
    for name, value in fake_env(fcm, apns).items():
        setattr(quiet, name, value)
    assert ids() == []


@pytest.mark.django_db
def test_a_missing_fcm_file_is_e001(quiet, tmp_path):
    quiet.FCM_CREDENTIALS = str(tmp_path / "nope.json")
    assert ids() == ["kilopush.E001"]
    assert "FCM_CREDENTIALS" in issue("kilopush.E001").msg


@pytest.mark.django_db
@pytest.mark.parametrize("content", ["not json", "[1, 2]", '"a string"'])
def test_an_fcm_file_that_is_not_a_json_object_is_e002(quiet, tmp_path, content):
    path = tmp_path / "fcm.json"
    path.write_text(content)
    quiet.FCM_CREDENTIALS = str(path)
    assert ids() == ["kilopush.E002"]


@pytest.mark.django_db
def test_an_fcm_file_without_project_id_is_e003(quiet, tmp_path, fcm):
    account = json.loads(open(fcm.credentials_file).read())
    del account["project_id"]
    path = tmp_path / "fcm.json"
    path.write_text(json.dumps(account))
    quiet.FCM_CREDENTIALS = str(path)
    assert ids() == ["kilopush.E003"]
    assert "project_id" in issue("kilopush.E003").msg


@pytest.mark.django_db
def test_a_partial_apns_configuration_is_e010_naming_what_is_missing(quiet, apns):
    quiet.APNS_KEY = apns.env["APNS_KEY"]
    quiet.APNS_TOPIC = "org.example.app"
    assert ids() == ["kilopush.E010"]
    message = issue("kilopush.E010").msg
    assert "APNS_KEY_ID" in message and "APNS_TEAM_ID" in message
    assert message.index("not set") < message.index("APNS_TOPIC")  # TOPIC is named as set, not as missing


@pytest.mark.django_db
def test_no_apns_setting_at_all_is_off_not_an_error(quiet):
    assert "kilopush.E010" not in ids()


def _full_apns(settings, key_path):
    settings.APNS_KEY, settings.APNS_KEY_ID, settings.APNS_TEAM_ID, settings.APNS_TOPIC = (
        str(key_path), "ABC123DEFG", "TEAM123456", "org.example.app")


@pytest.mark.django_db
def test_an_unreadable_apns_key_is_e011(quiet, tmp_path):
    _full_apns(quiet, tmp_path / "missing.p8")
    assert ids() == ["kilopush.E011"]


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["rsa", "p384", "garbage"])
def test_an_apns_key_that_is_not_es256_is_e012(quiet, tmp_path, key):
    path = tmp_path / "key.p8"
    if key == "rsa":
        path.write_text(pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    elif key == "p384":
        path.write_text(pem(ec.generate_private_key(ec.SECP384R1())))
    else:
        path.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    _full_apns(quiet, path)
    assert ids() == ["kilopush.E012"]


@pytest.mark.django_db
def test_an_es256_apns_key_passes(quiet, tmp_path):
    path = tmp_path / "key.p8"
    path.write_text(pem(ec.generate_private_key(ec.SECP256R1())))
    _full_apns(quiet, path)
    assert ids() == []


@pytest.mark.django_db
def test_a_vapid_key_that_is_not_p256_is_e020(quiet):
    quiet.VAPID_PRIVATE_KEY = "not a key"
    assert ids() == ["kilopush.E020"]
    quiet.VAPID_PRIVATE_KEY = pem(ec.generate_private_key(ec.SECP384R1()))
    assert ids() == ["kilopush.E020"]
    quiet.VAPID_PRIVATE_KEY = pem(ec.generate_private_key(ec.SECP256R1())).replace("\n", "\\n")  # one env line
    assert ids() == []


@pytest.mark.django_db
def test_a_site_url_that_is_not_absolute_is_e030(quiet):
    quiet.SITE_URL = "push.example.org"
    assert ids() == ["kilopush.E030"]


@pytest.mark.django_db
def test_a_site_url_outside_allowed_hosts_is_e031(quiet):
    quiet.SITE_URL = "https://push.example.org"
    quiet.ALLOWED_HOSTS = ["localhost"]
    assert ids() == ["kilopush.E031"]
    quiet.ALLOWED_HOSTS = [".example.org"]
    assert ids() == []


@pytest.mark.django_db
def test_csrf_trusted_origins_without_the_site_url_is_w002(quiet):
    quiet.SITE_URL = "https://push.example.org"
    quiet.ALLOWED_HOSTS = ["push.example.org"]
    quiet.CSRF_TRUSTED_ORIGINS = ["https://other.example.org"]
    assert ids() == ["kilopush.W002"]
    quiet.CSRF_TRUSTED_ORIGINS = ["https://push.example.org"]
    assert ids() == []


@pytest.mark.django_db
def test_logos_without_site_url_is_w001(quiet, channel):
    assert ids() == []
    Channel.objects.filter(pk=channel.pk).update(logo="logos/" + "a" * 32 + ".png")
    assert ids() == ["kilopush.W001"]
    quiet.SITE_URL = "https://push.example.org"
    quiet.ALLOWED_HOSTS = ["push.example.org"]
    assert ids() == []


@pytest.mark.django_db
def test_a_delivery_retention_shorter_than_the_admin_statistics_is_w020(quiet):
    quiet.DELIVERY_RETENTION_DAYS = 7
    assert ids() == ["kilopush.W020"]


@pytest.mark.django_db
def test_an_unreachable_redis_is_a_warning(quiet):
    quiet.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    assert ids() == ["kilopush.W010"]
    assert not issue("kilopush.W010").is_serious()


@pytest.mark.django_db
def test_a_database_that_answers_commits_before_they_are_on_disk_is_w012(quiet):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")  # this session only, undone with the test's transaction
    assert ids() == ["kilopush.W012"]
    warning = issue("kilopush.W012")
    assert not warning.is_serious()
    assert "synchronous_commit=off" in warning.msg and "fsync" not in warning.msg
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = local")  # on this server, as durable as on
    assert ids() == []


def manage(*args, **env):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=django_settings.BASE_DIR, env=base_env(**env),
                          capture_output=True, text=True, timeout=60)


def test_manage_py_check_fails_on_an_error_and_names_the_setting(tmp_path):
    done = manage("check", DATABASE_URL=database_url_for(), KILOPUSH_VAR_DIR=tmp_path, APNS_KEY_ID="ABC123DEFG")
    assert done.returncode == 1
    assert "kilopush.E010" in done.stderr and "APNS_KEY, APNS_TEAM_ID, APNS_TOPIC not set" in done.stderr


def test_manage_py_check_warns_of_an_unreachable_database(tmp_path):
    done = manage("check", DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/x", KILOPUSH_VAR_DIR=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "kilopush.W011" in done.stdout + done.stderr


def test_manage_py_check_warns_of_commits_answered_before_they_are_on_disk(tmp_path):
    done = manage("check", DATABASE_URL=database_url_for(), KILOPUSH_VAR_DIR=tmp_path,
                  PGOPTIONS="-c synchronous_commit=off")
    assert done.returncode == 0, done.stderr
    assert "kilopush.W012" in done.stdout + done.stderr
    done = manage("check", DATABASE_URL=database_url_for(), KILOPUSH_VAR_DIR=tmp_path)
    assert "kilopush.W012" not in done.stdout + done.stderr


def test_the_web_process_refuses_to_start_with_a_configuration_error(transactional_db, tmp_path):
    with pytest.raises(AssertionError) as failed:
        start_gunicorn(tmp_path, DATABASE_URL=database_url_for(), REDIS_URL=django_settings.REDIS_URL,
                       FCM_CREDENTIALS=tmp_path / "missing.json")
    assert "kilopush.E001" in str(failed.value) and "refusing to start" in str(failed.value)


def test_the_web_process_starts_with_a_warning(transactional_db, tmp_path):
    web = start_gunicorn(tmp_path, DATABASE_URL=database_url_for(), REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    try:
        assert "kilopush.W010" in web.log()
    finally:
        web.kill()


def test_the_worker_refuses_to_start_with_a_configuration_error(transactional_db, tmp_path):
    proc = Process([sys.executable, "-m", "celery", "-A", "kilopush", "worker", "--pool", "solo", "--loglevel", "INFO",
                    "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"bad-{free_port()}@localhost"],
                   base_env(DATABASE_URL=database_url_for(), REDIS_URL=django_settings.REDIS_URL,
                            KILOPUSH_VAR_DIR=tmp_path, APNS_TOPIC="org.example.app"),
                   tmp_path / "worker.log")
    try:
        assert proc.proc.wait(timeout=60) != 0
    finally:
        proc.kill()
    assert "kilopush.E010" in proc.log() and "ready." not in proc.log()
