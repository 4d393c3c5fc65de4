"""Configuration checks (Django's system check framework): kilopush.E001-E099, kilopush.W001-W099.

Run by `manage.py check` and when every process starts (run_at_startup): a bad configuration is
an error naming the setting and the fix before the first push, not a traceback at it.
"""

import json
import logging
import sys
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

logger = logging.getLogger("kilopush.checks")

APNS_SETTINGS = ("APNS_KEY", "APNS_KEY_ID", "APNS_TEAM_ID", "APNS_TOPIC")
FCM_ACCOUNT_FIELDS = ("project_id", "client_email", "private_key")


def _read(path, setting):
    """(text, None) or (None, an Error naming the setting)."""
    try:
        return Path(path).read_text(), None
    except OSError as exc:
        return None, checks.Error(
            f"{setting} names {path!r}, which cannot be read: {exc.strerror or exc}",
            hint=f"Point {setting} at the file, readable by the user the processes run as, or unset {setting}.",
            id="kilopush.E001" if setting == "FCM_CREDENTIALS" else "kilopush.E011",
        )


@checks.register("kilopush")
def check_fcm(app_configs=None, **kwargs):
    path = settings.FCM_CREDENTIALS
    if not path:
        return []  # off: Android pushes go to the log (as the worker says at start)
    text, error = _read(path, "FCM_CREDENTIALS")
    if error:
        return [error]
    try:
        account = json.loads(text)
    except ValueError as exc:
        account = exc
    if not isinstance(account, dict):
        return [checks.Error(
            f"FCM_CREDENTIALS ({path}) is not a service-account JSON object",
            hint="Download the key of a service account from the Firebase console (Project settings > "
                 "Service accounts > Generate new private key) and point FCM_CREDENTIALS at that file.",
            id="kilopush.E002",
        )]
    missing = [field for field in FCM_ACCOUNT_FIELDS if not account.get(field)]
    if missing:
        return [checks.Error(
            f"FCM_CREDENTIALS ({path}) has no {', '.join(missing)}",
            hint="Use the service-account key file exactly as the Firebase console generates it.",
            id="kilopush.E003",
        )]
    return []


@checks.register("kilopush")
def check_apns(app_configs=None, **kwargs):
    given = [name for name in APNS_SETTINGS if getattr(settings, name)]
    if not given:
        return []  # off: iOS pushes go to the log
    missing = [name for name in APNS_SETTINGS if name not in given]
    if missing:
        return [checks.Error(
            f"APNs is partly configured: {', '.join(missing)} not set ({', '.join(given)} set)",
            hint="Set all four of APNS_KEY (the .p8 file), APNS_KEY_ID, APNS_TEAM_ID and APNS_TOPIC (the app's "
                 "bundle id), or none of them to turn APNs off.",
            id="kilopush.E010",
        )]
    text, error = _read(settings.APNS_KEY, "APNS_KEY")
    if error:
        return [error]
    if not _is_p256_private_key(text):
        return [checks.Error(
            f"APNS_KEY ({settings.APNS_KEY}) is not an ES256 (EC P-256) private key in PEM",
            hint="Use the .p8 file of a key created under Certificates, Identifiers & Profiles > Keys with "
                 "Apple Push Notifications service enabled; APNS_KEY_ID is that key's id.",
            id="kilopush.E012",
        )]
    return []


def _is_p256_private_key(pem):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_private_key(pem.strip().replace("\\n", "\n").encode(), password=None)
    except (ValueError, TypeError):
        return False
    return isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)


@checks.register("kilopush")
def check_vapid(app_configs=None, **kwargs):
    key = getattr(settings, "VAPID_PRIVATE_KEY", "") or ""
    if not key or _is_p256_private_key(key):
        return []
    return [checks.Error(
        "VAPID_PRIVATE_KEY is not an EC P-256 private key in PEM",
        hint="Generate one (e.g. `openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt`) "
             "and set VAPID_PRIVATE_KEY, or VAPID_PRIVATE_KEY_FILE to a file holding it.",
        id="kilopush.E020",
    )]


def _site_url_parts():
    parts = urlsplit(settings.SITE_URL)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts


@checks.register("kilopush")
def check_site_url(app_configs=None, **kwargs):
    from django.http.request import validate_host

    if not settings.SITE_URL:
        return []  # messaging/checks.py warns when logos need it (kilopush.W001)
    parts = _site_url_parts()
    if parts is None:
        return [checks.Error(
            f"SITE_URL {settings.SITE_URL!r} is not an absolute http(s) URL",
            hint="Set SITE_URL to the address people and push services reach this server at, e.g. "
                 "https://push.example.org",
            id="kilopush.E030",
        )]
    issues = []
    if not validate_host(parts.hostname, settings.ALLOWED_HOSTS):
        issues.append(checks.Error(
            f"SITE_URL's host {parts.hostname!r} is not in ALLOWED_HOSTS ({','.join(settings.ALLOWED_HOSTS)})",
            hint=f"Add {parts.hostname} to ALLOWED_HOSTS, or correct SITE_URL: every request to it would be "
                 "refused with 400.",
            id="kilopush.E031",
        ))
    origin = f"{parts.scheme}://{parts.netloc}"
    if settings.CSRF_TRUSTED_ORIGINS and origin not in settings.CSRF_TRUSTED_ORIGINS:
        issues.append(checks.Warning(
            f"CSRF_TRUSTED_ORIGINS ({','.join(settings.CSRF_TRUSTED_ORIGINS)}) does not include SITE_URL's "
            f"origin {origin}",
            hint=f"Add {origin} to CSRF_TRUSTED_ORIGINS (or leave it empty): staff logins to the admin at SITE_URL "
                 "may fail the CSRF check.",
            id="kilopush.W002",
        ))
    return issues


@checks.register("kilopush")
def check_services_reachable(app_configs=None, **kwargs):
    """Warnings only: a process may start before its database or Redis and wait for them."""
    issues = []
    from django.db import connection

    try:
        connection.ensure_connection()
    except Exception as exc:
        db = settings.DATABASES["default"]
        issues.append(checks.Warning(
            f"The database ({db['ENGINE'].rsplit('.', 1)[-1]} {db.get('HOST') or db.get('NAME')}) is not reachable: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__}",
            hint="Check DATABASE_URL and that PostgreSQL is running and accepts this user.",
            id="kilopush.W011",
        ))
    else:
        issues += commits_not_durable(connection)
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        except Exception as exc:
            issues.append(checks.Warning(
                f"Redis ({urlsplit(settings.REDIS_URL).hostname}) is not reachable: {exc}",
                hint="Check REDIS_URL and that Redis is running; until it is, rate limits fail open and "
                     "the sweep delivers accepted messages.",
                id="kilopush.W010",
            ))
        finally:
            client.close()
    return issues


def commits_not_durable(connection):
    """kilopush.W012: PostgreSQL answers a commit before it is on disk (fsync or synchronous_commit off), so a
    send answered 200 can be lost in a crash. Read as this process's sessions see them (PGOPTIONS included)."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('fsync'), current_setting('synchronous_commit')")
        found = dict(zip(("fsync", "synchronous_commit"), cursor.fetchone()))
    off = [f"{name}={value}" for name, value in found.items() if value == "off"]
    if not off:
        return []
    return [checks.Warning(
        f"PostgreSQL runs with {' and '.join(off)}: it answers a commit before the commit is on disk, so a crash "
        "can lose messages the send API already accepted",
        hint="Turn them back on (postgresql.conf, or ALTER SYSTEM / ALTER DATABASE / ALTER ROLE ... RESET, or the "
             "PGOPTIONS of these processes); for a faster send, put pg_wal on storage that flushes fast "
             "(docs/operations.md, Sizing).",
        id="kilopush.W012",
    )]


@checks.register("kilopush")
def check_media_storage(app_configs=None, **kwargs):
    """A deployment (PostgreSQL, as kilopush.E100 tells it from the embedded mode) keeping media on one disk."""
    from django.core.files.storage import FileSystemStorage, storages

    embedded = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    if embedded or settings.MEDIA_ROOT_SHARED or not isinstance(storages["default"], FileSystemStorage):
        return []
    return [checks.Warning(
        f"Media (channel logos) are kept on this machine's disk ({settings.MEDIA_ROOT}): another node answers 404 "
        "for a logo uploaded through this one",
        hint="Set STORAGE_S3_BUCKET (and STORAGE_S3_ENDPOINT_URL for a store other than AWS) so that every node "
             "shares one store, or, when MEDIA_ROOT is on storage every node mounts or there is only one node, "
             "set MEDIA_ROOT_SHARED=true.",
        id="kilopush.W030",
    )]


def run_at_startup(process):
    """Runs every system check when a process starts; logs warnings, refuses to start on errors."""
    from django.core.checks.registry import registry
    from django.db import connections

    try:
        issues = [i for i in registry.run_checks(include_deployment_checks=False) if not i.is_silenced()]
    finally:
        connections.close_all()  # the web master forks after this: no shared connection
    for issue in issues:
        logger.log(logging.ERROR if issue.is_serious() else logging.WARNING, "%s", _format(issue))
    errors = [i for i in issues if i.is_serious()]
    if errors:
        sys.stderr.write(f"KILO.Push {process}: refusing to start, {len(errors)} configuration error(s):\n")
        for issue in errors:
            sys.stderr.write(f"  {_format(issue)}\n")
        sys.stderr.flush()
        raise SystemExit(1)
    return issues


def _format(issue):
    text = f"{issue.id}: {issue.msg}"
    return f"{text} (HINT: {issue.hint})" if issue.hint else text
