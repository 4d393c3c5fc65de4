"""One VAPID key for every node (issue 23, item 11): generated once, kept in the database encrypted with
FIELD_ENCRYPTION_KEY, read by every process; VAPID_PRIVATE_KEY overrides it; a check refuses a node whose
key could differ from the others'."""

import base64
import json
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings

from messaging import vapid
from messaging.checks import check_vapid_key_shared
from messaging.models import Delivery, VapidKey
from tests.app_api import call
from tests.delivery.test_delivery_webpush import wait_for_state
from tests.people import make_person
from tests.procs import base_env, database_url_for, start_gunicorn, start_worker

PRINT_PUBLIC_KEY = "from messaging import vapid; print(vapid.application_server_key())"


def node_env(tmp_path, name, **extra):
    """A node of its own (its own KILOPUSH_VAR_DIR) on the test's PostgreSQL and Redis, without VAPID_PRIVATE_KEY."""
    return base_env(DATABASE_URL=database_url_for(), REDIS_URL=django_settings.REDIS_URL,
                    KILOPUSH_VAR_DIR=tmp_path / name, VAPID_PRIVATE_KEY="", **extra)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.django_db(transaction=True)
def test_processes_starting_at_once_on_one_database_report_one_key(tmp_path):
    processes = [
        subprocess.Popen([sys.executable, "manage.py", "shell", "-c", PRINT_PUBLIC_KEY],
                         env=node_env(tmp_path, f"node-{i}"), cwd=django_settings.BASE_DIR,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(4)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err for _, err in outputs]
    keys = {out.strip().splitlines()[-1] for out, _ in outputs}
    assert len(keys) == 1
    [row] = VapidKey.objects.all()
    assert keys == {row.public_key}
    assert "PRIVATE KEY" not in row.private_key  # encrypted
    assert not any((tmp_path / f"node-{i}" / vapid.LEGACY_KEY_NAME).exists() for i in range(4))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_web_nodes_give_the_same_key_and_another_nodes_worker_pushes(tmp_path, client, webpush, settings):
    settings.VAPID_PRIVATE_KEY = ""
    settings.WEBPUSH_ENDPOINT_HOSTS = webpush.env["WEBPUSH_ENDPOINT_HOSTS"].split(",")
    with ThreadPoolExecutor(2) as pool:
        webs = list(pool.map(lambda name: start_gunicorn(tmp_path, WEB_CONCURRENCY=1, **node_env(tmp_path, name)),
                             ["web-a", "web-b"]))
    worker = None
    try:
        def public_key(web):
            with urllib.request.urlopen(web.url + "/v1/app/webpush", timeout=30) as answer:
                return json.load(answer)["public_key"]

        with ThreadPoolExecutor(2) as pool:
            keys = list(pool.map(public_key, webs))
        assert keys[0] == keys[1], [web.log()[-2000:] for web in webs]

        # A browser subscribes with node A's key; the stand-in refuses (403) a push signed with any other.
        subscription = webpush.subscribe(keys[0]).as_json()
        registered = call(client, "POST", "/v1/app/register", body={"platform": "web", "subscription": subscription})
        assert registered.status_code == 201
        from channels_app.services import channel_create

        channel = channel_create(owner=make_person().user, name="Front door")
        worker = start_worker(tmp_path, **node_env(tmp_path, "worker-c", PUSH_PROVIDER_WEB="webpush",
                                                   WEBPUSH_TIMEOUT="1", DELIVERY_SWEEP_INTERVAL=1, **webpush.env))
        body = {"to": registered.json()["user_token"], "token": channel.token, "secret": channel.secret,
                "message": "Ding dong"}
        request = urllib.request.Request(webs[1].url + "/v1/messages/send", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            message_id = int(json.load(answer)["response"]["id"])
        wait_for_state(message_id, Delivery.ACCEPTED, worker)
        [received] = webpush.script.accepted(subscription["endpoint"])
        assert received["payload"]["message"] == "Ding dong"
        assert [p for p in webpush.script.pushes if p["answer"] == "refused"] == []
    finally:
        if worker:
            worker.kill()
        for web in webs:
            web.kill()


@pytest.fixture
def stored_key(db, settings, tmp_path):
    """No VAPID_PRIVATE_KEY, a fresh KILOPUSH_VAR_DIR, and the key the database then holds."""
    settings.VAPID_PRIVATE_KEY = ""
    settings.VAR_DIR = tmp_path / "var"
    return vapid.private_key()


def test_the_generated_key_is_stored_encrypted_and_read_back(stored_key):
    [row] = VapidKey.objects.all()
    assert row.public_key == b64url(vapid.public_key_point(stored_key))
    assert vapid.public_key_point(vapid.load_pem(vapid.stored_pem(create=False))) == vapid.public_key_point(stored_key)
    assert vapid.application_server_key() == row.public_key


def test_vapid_private_key_overrides_the_stored_key(stored_key, settings, vapid_pem):
    settings.VAPID_PRIVATE_KEY = vapid_pem
    assert vapid.public_key_point() == vapid.public_key_point(vapid.load_pem(vapid_pem))
    assert VapidKey.objects.count() == 1  # left as it was


def test_a_key_an_older_version_generated_on_this_node_is_the_one_stored(db, settings, tmp_path, vapid_pem):
    settings.VAPID_PRIVATE_KEY = ""
    settings.VAR_DIR = tmp_path
    (tmp_path / vapid.LEGACY_KEY_NAME).write_text(vapid_pem)
    assert vapid.public_key_point() == vapid.public_key_point(vapid.load_pem(vapid_pem))
    assert check_vapid_key_shared() == []


def test_a_consistent_node_passes_the_check(stored_key):
    assert check_vapid_key_shared() == []


def test_the_check_fails_when_vapid_private_key_differs_from_the_stored_key(stored_key, settings, vapid_pem):
    settings.VAPID_PRIVATE_KEY = vapid_pem
    [error] = check_vapid_key_shared()
    assert (error.id, error.is_serious()) == ("kilopush.E021", True)


def test_the_check_passes_when_vapid_private_key_is_the_stored_key(stored_key, settings):
    settings.VAPID_PRIVATE_KEY = vapid.stored_pem()
    assert check_vapid_key_shared() == []


def test_the_check_fails_when_this_nodes_old_key_file_differs(stored_key, settings, vapid_pem):
    (settings.VAR_DIR / vapid.LEGACY_KEY_NAME).parent.mkdir(parents=True, exist_ok=True)
    (settings.VAR_DIR / vapid.LEGACY_KEY_NAME).write_text(vapid_pem)
    [error] = check_vapid_key_shared()
    assert (error.id, error.is_serious()) == ("kilopush.E022", True)
    assert vapid.LEGACY_KEY_NAME in error.msg


def test_the_check_fails_when_this_node_cannot_decrypt_the_stored_key(stored_key, settings):
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key()  # this node's SECRET_KEY differs from the others'
    [error] = check_vapid_key_shared()
    assert (error.id, error.is_serious()) == ("kilopush.E023", True)
    assert "FIELD_ENCRYPTION_KEY" in error.msg


@pytest.mark.django_db(transaction=True)
def test_manage_py_check_refuses_a_node_whose_old_key_file_differs(tmp_path, vapid_pem):
    env = node_env(tmp_path, "old-node")
    first = subprocess.run([sys.executable, "manage.py", "shell", "-c", PRINT_PUBLIC_KEY], env=node_env(tmp_path, "new"),
                           cwd=django_settings.BASE_DIR, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    (tmp_path / "old-node").mkdir(parents=True, exist_ok=True)
    (tmp_path / "old-node" / vapid.LEGACY_KEY_NAME).write_text(vapid_pem)
    check = subprocess.run([sys.executable, "manage.py", "check"], env=env, cwd=django_settings.BASE_DIR,
                           capture_output=True, text=True, timeout=120)
    assert check.returncode != 0
    assert "kilopush.E022" in check.stderr
