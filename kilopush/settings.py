"""KILO.Push settings: everything comes from the environment (see docs/operations.md, "Settings")."""

import base64
import hashlib
import os
import re
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.getenv("KILOPUSH_VAR_DIR", BASE_DIR / "var"))


def envbool(name, default):
    value = os.getenv(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def _envnumber(name, default, cast, kind):
    value = os.getenv(name)
    if value is None or value == "":
        return default
    try:
        return cast(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {kind}, not {value!r}") from None


def envint(name, default):
    return _envnumber(name, default, int, "an integer")


def envfloat(name, default):
    return _envnumber(name, default, float, "a number")


def envrate(name, default):
    """A django-ratelimit rate, "10/h" or "100/5m": a count per (a number of) s, m, h or d."""
    value = os.getenv(name)
    if value is None or value == "":
        return default
    if not re.fullmatch(r"[0-9]+/[0-9]*[smhd]", value.strip()):
        raise ImproperlyConfigured(f"{name} must be a rate such as 10/h or 100/5m, not {value!r}")
    return value.strip()


def envsecret(name, default=None):
    """Reads NAME, or the file named by NAME_FILE (for Docker/Kubernetes secrets)."""
    path = os.getenv(name + "_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.getenv(name, default)


DEBUG = envbool("DEBUG", False)
# SECRET_KEY: given, or (embedded mode only) generated once under KILOPUSH_VAR_DIR; see kilopush/secret_key.py.
_DATABASE_URL_ENV = os.getenv("DATABASE_URL", "")
SECRET_KEY = envsecret("SECRET_KEY") or ""
SECRET_KEY_ORIGIN = "env"
if not SECRET_KEY:
    import secrets as _secrets

    from kilopush.secret_key import embedded_secret_key

    if not _DATABASE_URL_ENV or _DATABASE_URL_ENV.startswith("sqlite"):
        _db_file = dj_database_url.parse(_DATABASE_URL_ENV or f"sqlite:///{VAR_DIR / 'kilopush.sqlite3'}")["NAME"]
        SECRET_KEY, SECRET_KEY_ORIGIN = embedded_secret_key(VAR_DIR, _db_file)
    else:
        # A deployment without a key: the system check kilopush.E100 refuses to start.
        SECRET_KEY, SECRET_KEY_ORIGIN = "unset-" + _secrets.token_urlsafe(50), "missing"
ALLOWED_HOSTS = [h.strip() for h in os.getenv("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]
PORT = envint("PORT", 8000)
SITE_URL = os.getenv("SITE_URL", "").rstrip("/")
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.getenv("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]
# Origins (scheme://host[:port]) whose pages may call the app API (/v1/app/...); the send API takes any origin.
CORS_ALLOWED_ORIGINS = [o.strip().rstrip("/") for o in os.getenv("CORS_ALLOWED_ORIGINS", "").split(",") if o.strip()]

# HTTPS=true: the deployment is served over TLS (directly or behind a proxy that sets
# X-Forwarded-Proto); turns on redirects, secure cookies and HSTS.
HTTPS = envbool("HTTPS", False)
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", HTTPS)
if envbool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# Channel Secret Keys are kept encrypted with this key (Fernet) and compared by
# HMAC digest; by default both are derived from SECRET_KEY.
_field_key = envsecret("FIELD_ENCRYPTION_KEY") or SECRET_KEY
FIELD_ENCRYPTION_KEY = base64.urlsafe_b64encode(hashlib.sha256(("fernet:" + _field_key).encode()).digest())
DIGEST_KEY = hashlib.sha256(("digest:" + _field_key).encode()).digest()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "users_app",
    "channels_app",
    "messaging",
    "stats_app",
    "reports_app",
    "webapp",
    "stream_app",
    "integrations",
]

MIDDLEWARE = [
    # Outermost: CORS headers go on every answer, the error envelopes and 500s included.
    "kilopush.cors.CorsMiddleware",
    "kilopush.errors.ApiErrorMiddleware",
    "kilopush.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The web app's and the admin's language (docs/translating.md); the APIs stay English.
    "kilopush.locale.PageLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# POST /v1/messages/send goes through MIDDLEWARE less these (kilopush/wsgi.py): the send API
# has no use for static files, sessions, CSRF (it is exempt), users or flash messages.
SEND_MIDDLEWARE_SKIP = [
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "kilopush.locale.PageLocaleMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = os.getenv("ROOT_URLCONF", "wiring.urls")
WSGI_APPLICATION = "kilopush.wsgi.application"
ASGI_APPLICATION = "kilopush.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: DATABASE_URL, or the embedded SQLite file.
DATABASE_URL = os.getenv("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'kilopush.sqlite3'}"
for _dir in ("broker", "static"):
    (VAR_DIR / _dir).mkdir(parents=True, exist_ok=True)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: wait for locks instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
else:
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = envint("DB_CONNECT_TIMEOUT", 5)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # The same backend, with a health check that costs no round trip (kilopush/postgresql/base.py).
        DATABASES["default"]["ENGINE"] = "kilopush.postgresql"
# The hot paths' statements are prepared on each connection (kilopush.queries.hot_cursor): psycopg
# prepares a server-side bound statement on its 5th run (Django's other cursors bind on the client
# and never prepare).
DB_PREPARED_STATEMENTS = envbool("DB_PREPARED_STATEMENTS", True)
# Behind a pooler (detected per connection: kilopush/postgresql/base.py) nothing is prepared unless this is
# true: PgBouncer >= 1.22 in transaction mode with max_prepared_statements > 0 keeps them (psycopg's requirement).
DB_PREPARE_BEHIND_POOLER = envbool("DB_PREPARE_BEHIND_POOLER", False)
if DB_PREPARED_STATEMENTS and DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: cache (rate limits) and Celery broker. Unset = embedded mode.
REDIS_URL = os.getenv("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "kilopush.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
else:
    # Embedded: one web process (see Procfile), so a process-local cache is shared
    # by all its threads; the broker is a spool directory, and each message written to it
    # wakes the worker through a local socket (kilopush/embedded_broker.py).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = "kilopush.embedded_broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # false: kombu's plain polling of the spool (the fallback when a wake-up is lost).
        "wakeup": envbool("EMBEDDED_BROKER_WAKEUP", True),
        "polling_interval": envfloat("EMBEDDED_BROKER_POLL_INTERVAL", 1.0),
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        "processed_folder": str(VAR_DIR / "broker-processed"),
        "store_processed": False,
        "control_folder": str(VAR_DIR / "broker-control"),
    }

CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One reserved task per worker process: a waiting nudge must not sit behind a busy process.
CELERY_WORKER_PREFETCH_MULTIPLIER = envint("CELERY_WORKER_PREFETCH_MULTIPLIER", 1)
# Celery's Django fixup closes the database connection before and after every task unless this is set:
# a new PostgreSQL backend per task, and the hot statements never prepared. Tasks instead close
# connections the way Django's requests do (CONN_MAX_AGE, errors; kilopush/celery.py).
CELERY_DB_REUSE_MAX = 2**62
# Worker processes of `celery worker` (prefork pool); Celery's own default, the number of cores.
CELERY_WORKER_CONCURRENCY = envint("CELERY_WORKER_CONCURRENCY", os.cpu_count() or 1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "kilopush"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

RATELIMIT_USE_CACHE = "default"
RATELIMIT_FAIL_OPEN = True
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001", "django_ratelimit.E003"]
# Repeated 4003 answers from one client address are throttled at this rate.
SEND_AUTH_FAILURE_RATE = os.getenv("SEND_AUTH_FAILURE_RATE", "60/m")
# How many reverse proxies in front of the app append to X-Forwarded-For (0 = none trusted).
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)

CHANNEL_DAILY_LIMIT = envint("CHANNEL_DAILY_LIMIT", 300)
CHANNELS_PER_USER = envint("CHANNELS_PER_USER", 5)
# Send keys (hooks, Gotify and ntfy publishing) one channel may have, and key creations per client address.
SEND_KEYS_PER_CHANNEL = envint("SEND_KEYS_PER_CHANNEL", 20)
APP_KEY_CREATE_RATE = os.getenv("APP_KEY_CREATE_RATE", "60/h")

# Bodies of the JSON/form API are small; refuse anything larger before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 65536)
# Image attachments of the send API (multipart `attachment`): largest file, largest image before it is
# decoded (decompression bombs; 40 MP is a large phone photo), and the bytes one channel may store per UTC day.
ATTACHMENT_MAX_BYTES = envint("ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024)
ATTACHMENT_MAX_PIXELS = envint("ATTACHMENT_MAX_PIXELS", 40_000_000)
ATTACHMENT_DAILY_BYTES = envint("ATTACHMENT_DAILY_BYTES", 100 * 1024 * 1024)

# --- App API (users, inbox, channels, docs) ---
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
# Registrations and channel creations one client address may make (django-ratelimit, counted in Redis).
APP_REGISTER_RATE = os.getenv("APP_REGISTER_RATE", "20/h")
APP_CHANNEL_CREATE_RATE = os.getenv("APP_CHANNEL_CREATE_RATE", "30/h")
# Logo uploads (create or update) one client address may make: each costs a decode (issue 16).
APP_LOGO_UPDATE_RATE = os.getenv("APP_LOGO_UPDATE_RATE", "30/h")
# Abuse reports (POST /v1/app/reports) one account, and one client address, may file.
APP_REPORT_RATE = os.getenv("APP_REPORT_RATE", "20/h")
# Link-code attempts (POST /v1/app/link) one client address may make, right or wrong.
APP_LINK_RATE = os.getenv("APP_LINK_RATE", APP_REGISTER_RATE)
# Link codes (POST /v1/app/link-codes) one account, and (counted apart) one client address, may make.
APP_LINK_CODE_RATE = envrate("APP_LINK_CODE_RATE", "10/h")
# Channel logos: largest upload, largest decoded image (decompression bombs), stored side.
LOGO_MAX_BYTES = envint("LOGO_MAX_BYTES", 2 * 1024 * 1024)
# 16 MP: ample for a 256 px logo, and a bound on the decode's time (it is linear in pixels).
LOGO_MAX_PIXELS = envint("LOGO_MAX_PIXELS", 16_000_000)
LOGO_SIZE = envint("LOGO_SIZE", 256)
# Cache-Control max-age of served logos; their names change whenever a logo changes.
LOGO_CACHE_SECONDS = envint("LOGO_CACHE_SECONDS", 7 * 24 * 3600)
SPECTACULAR_SETTINGS = {
    "TITLE": "KILO.Push API",
    "DESCRIPTION": "The send API (POST /v1/messages/send) and the API of the KILO.Push apps (/v1/app/...).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "messaging.send.schema.add_send_api",
        "users_app.auth.add_blocked_responses",
    ],
}

# --- end App API ---

# --- Delivery (providers, Celery pipeline) ---


def envchoice(name, default, choices):
    value = os.getenv(name) or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


# Which provider pushes to each platform; one whose credentials are missing is off (log instead).
PUSH_PROVIDER_ANDROID = envchoice("PUSH_PROVIDER_ANDROID", "fcm", ("fcm", "log"))
PUSH_PROVIDER_IOS = envchoice("PUSH_PROVIDER_IOS", "apns", ("apns", "log"))

FCM_CREDENTIALS = os.getenv("FCM_CREDENTIALS", "")  # service-account JSON: project_id and token_uri used as given
FCM_ENDPOINT = os.getenv("FCM_ENDPOINT", "https://fcm.googleapis.com").rstrip("/")
FCM_TIMEOUT = envfloat("FCM_TIMEOUT", 10.0)
FCM_CONCURRENCY = envint("FCM_CONCURRENCY", 100)  # parallel HTTP/1.1 requests (and kept connections) per worker process: a whole batch at once

APNS_KEY = os.getenv("APNS_KEY", "")  # path to the .p8 signing key
APNS_KEY_ID = os.getenv("APNS_KEY_ID", "")
APNS_TEAM_ID = os.getenv("APNS_TEAM_ID", "")
APNS_TOPIC = os.getenv("APNS_TOPIC", "")  # the app's bundle id
APNS_ENDPOINT = os.getenv("APNS_ENDPOINT", "").rstrip("/")
APNS_SANDBOX_ENDPOINT = (
    os.getenv("APNS_SANDBOX_ENDPOINT", "").rstrip("/") or APNS_ENDPOINT or "https://api.sandbox.push.apple.com"
)
APNS_ENDPOINT = APNS_ENDPOINT or "https://api.push.apple.com"
APNS_CA_FILE = os.getenv("APNS_CA_FILE", "")
APNS_TIMEOUT = envfloat("APNS_TIMEOUT", 10.0)
APNS_MAX_CONNECTIONS = envint("APNS_MAX_CONNECTIONS", 4)

# Web Push (RFC 8030/8291/8292). Without VAPID_PRIVATE_KEY a key is generated once and stored in the database.
PUSH_PROVIDER_WEB = envchoice("PUSH_PROVIDER_WEB", "webpush", ("webpush", "log"))
VAPID_PRIVATE_KEY = envsecret("VAPID_PRIVATE_KEY", "")  # PEM, EC P-256 (python manage.py vapid_keygen)
VAPID_SUBJECT = os.getenv("VAPID_SUBJECT", "mailto:admin@localhost")
if not VAPID_SUBJECT.startswith(("mailto:", "https:")):
    raise ImproperlyConfigured(f"VAPID_SUBJECT must be a mailto: or https: URI, not {VAPID_SUBJECT!r}")
WEBPUSH_TIMEOUT = envfloat("WEBPUSH_TIMEOUT", 10.0)
WEBPUSH_CONCURRENCY = envint("WEBPUSH_CONCURRENCY", 32)  # parallel requests (and kept connections) per worker process
WEBPUSH_CA_FILE = os.getenv("WEBPUSH_CA_FILE", "")  # an extra CA to trust (the stand-in's), on top of the usual ones
# Push services a subscription endpoint may name (an SSRF guard); "*.example.com" matches subdomains; port 443
# unless an entry names one ("127.0.0.1:8704").
WEBPUSH_ENDPOINT_HOSTS = [
    h.strip().lower()
    for h in (
        os.getenv("WEBPUSH_ENDPOINT_HOSTS")
        or "fcm.googleapis.com,*.push.services.mozilla.com,*.notify.windows.com,*.push.apple.com"
    ).split(",")
    if h.strip()
]

# Pipeline: the Delivery row is the truth, the Celery message only a nudge.
DELIVERY_BATCH_SIZE = envint("DELIVERY_BATCH_SIZE", 100)  # deliveries one task claims and sends concurrently
DELIVERY_RETRY_BASE_DELAY = envfloat("DELIVERY_RETRY_BASE_DELAY", 5.0)  # first retry; doubles per attempt
DELIVERY_RETRY_MAX_DELAY = envfloat("DELIVERY_RETRY_MAX_DELAY", 3600.0)  # backoff cap (Retry-After may ask for more)
DELIVERY_MAX_AGE = envfloat("DELIVERY_MAX_AGE", 86400.0)  # after this a failing delivery expires
DELIVERY_COUNTDOWN_MAX = envfloat("DELIVERY_COUNTDOWN_MAX", 60.0)  # longer retries wait in the row for the sweep
DELIVERY_REQUEUE_AFTER = envfloat("DELIVERY_REQUEUE_AFTER", 60.0)  # a queued delivery this old is re-queued
# A worker renews its batch's claim every third of this while the batch is in flight, so a claim not renewed
# for this long belonged to a worker that died: the sweep re-queues it. With the sweep's interval, the most a
# dead worker's deliveries wait before they are pushed again (defaults: 15 + 10 s, under 30 s).
DELIVERY_CLAIM_TIMEOUT = envfloat("DELIVERY_CLAIM_TIMEOUT", 15.0)
DELIVERY_SWEEP_INTERVAL = envfloat("DELIVERY_SWEEP_INTERVAL", 10.0)
# With Redis, a send queues a task only when none is waiting (the waiting one claims its deliveries too).
DELIVERY_NUDGE_COALESCE = envbool("DELIVERY_NUDGE_COALESCE", True)
DELIVERY_NUDGE_PENDING_TTL = envint("DELIVERY_NUDGE_PENDING_TTL", 5)  # a lost waiting nudge blocks no longer
# Under load, a web process sends its sends' nudges at most once per this many ms, in one Redis round trip
# (messaging/queueing.py:_NudgeBatch); a lone send still nudges before it answers. 0: no lingering.
DELIVERY_NUDGE_LINGER_MS = envfloat("DELIVERY_NUDGE_LINGER_MS", 5.0)

# Messages past their ttl leave the inbox within this many seconds; removed messages' status is kept this long.
MESSAGE_EXPIRY_INTERVAL = envfloat("MESSAGE_EXPIRY_INTERVAL", 30.0)
MESSAGE_STATUS_DAYS = envint("MESSAGE_STATUS_DAYS", 30)

CELERY_BEAT_SCHEDULE = {
    "delivery-sweep": {"task": "messaging.tasks.sweep_deliveries", "schedule": DELIVERY_SWEEP_INTERVAL},
    "message-expiry": {"task": "messaging.tasks.expire_messages_task", "schedule": MESSAGE_EXPIRY_INTERVAL},
}
# Emergency messages (priority 2, issue 24): the least `retry` a sender may ask for, and how often beat
# re-queues the repeats that are due (a repeat goes out at most this late).
EMERGENCY_MIN_RETRY = envint("EMERGENCY_MIN_RETRY", 30)
EMERGENCY_REPEAT_INTERVAL = envfloat("EMERGENCY_REPEAT_INTERVAL", 2.0)
CELERY_BEAT_SCHEDULE["emergency-repeats"] = {
    "task": "messaging.tasks.repeat_emergencies", "schedule": EMERGENCY_REPEAT_INTERVAL
}
# Scheduled delivery (issue 24): how often beat releases the messages whose `at` has come (at most this late).
SCHEDULED_RELEASE_INTERVAL = envfloat("SCHEDULED_RELEASE_INTERVAL", 1.0)
CELERY_BEAT_SCHEDULE["scheduled-release"] = {
    "task": "messaging.tasks.release_scheduled", "schedule": SCHEDULED_RELEASE_INTERVAL
}
# Webhooks (issue 24): hosts that may be plain http or on a private address (intranets, tests), comma
# separated; the first retry after WEBHOOK_RETRY_BASE_DELAY seconds, doubling, for at most WEBHOOK_MAX_AGE.
WEBHOOK_ALLOW_HOSTS = tuple(h.strip().lower().strip("[]") for h in os.getenv("WEBHOOK_ALLOW_HOSTS", "").split(",")
                            if h.strip())
WEBHOOK_TIMEOUT = envfloat("WEBHOOK_TIMEOUT", 10.0)
WEBHOOK_RETRY_BASE_DELAY = envfloat("WEBHOOK_RETRY_BASE_DELAY", 5.0)
WEBHOOK_RETRY_MAX_DELAY = envfloat("WEBHOOK_RETRY_MAX_DELAY", 3600.0)
WEBHOOK_MAX_AGE = envfloat("WEBHOOK_MAX_AGE", 86400.0)
WEBHOOK_SWEEP_INTERVAL = envfloat("WEBHOOK_SWEEP_INTERVAL", 5.0)
CELERY_BEAT_SCHEDULE["webhook-sweep"] = {"task": "messaging.tasks.sweep_webhooks", "schedule": WEBHOOK_SWEEP_INTERVAL}
# A down broker must not hold the web request: one quick retry, then the sweep recovers the message.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BROKER_CONNECTION_TIMEOUT = envfloat("CELERY_BROKER_CONNECTION_TIMEOUT", 2.0)
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        "visibility_timeout": 3600,  # above DELIVERY_COUNTDOWN_MAX: no countdown outlives it
    }

# --- end Delivery ---

# --- Stream (GET /v1/app/stream, served by the `stream` process: uvicorn, ASGI) ---

# The stream process's port when it is not behind the same proxy as the API (make run: PORT + 1).
STREAM_PORT = envint("STREAM_PORT", PORT + 1)
# Absolute URL of the stream that clients are told (GET /v1/app/config); unset: derived from SITE_URL or the request.
STREAM_URL = os.getenv("STREAM_URL", "").rstrip("/")
# Seconds of silence after which a stream sends a `: keepalive` comment.
STREAM_KEEPALIVE = envfloat("STREAM_KEEPALIVE", 25.0)
if STREAM_KEEPALIVE <= 0:
    raise ImproperlyConfigured("STREAM_KEEPALIVE must be above 0")
# Open streams one account, one client address (TRUSTED_PROXY_COUNT's rule), and one stream process may hold;
# past a cap a new stream is refused with 429/4029. Counted across processes in Redis (in-process without it).
STREAM_MAX_PER_ACCOUNT = envint("STREAM_MAX_PER_ACCOUNT", 10)
STREAM_MAX_PER_ADDRESS = envint("STREAM_MAX_PER_ADDRESS", 30)
STREAM_MAX_PER_PROCESS = envint("STREAM_MAX_PER_PROCESS", 4000)
# A stream process renews its streams' entries in Redis every third of this; a dead process's expire after it.
STREAM_LEASE_SECONDS = envfloat("STREAM_LEASE_SECONDS", 60.0)
if min(STREAM_MAX_PER_ACCOUNT, STREAM_MAX_PER_ADDRESS, STREAM_MAX_PER_PROCESS) < 1 or STREAM_LEASE_SECONDS < 1:
    raise ImproperlyConfigured("STREAM_MAX_PER_ACCOUNT, _PER_ADDRESS and _PER_PROCESS must be at least 1, "
                               "STREAM_LEASE_SECONDS at least 1")
# A request's head (and body) must arrive within this many seconds of its connection or first byte (as the web's).
WEB_READ_TIMEOUT = envfloat("WEB_READ_TIMEOUT", 15.0)
CELERY_BEAT_SCHEDULE["inbox-events-prune"] = {"task": "messaging.tasks.prune_inbox_events", "schedule": 600.0}

# --- end Stream ---

# --- Admin ---

# The statistics page lists unverified channels that used at least this share of today's daily limit.
ADMIN_NEAR_LIMIT_RATIO = float(os.getenv("ADMIN_NEAR_LIMIT_RATIO", "0.8"))
if not 0 < ADMIN_NEAR_LIMIT_RATIO <= 1:
    raise ImproperlyConfigured("ADMIN_NEAR_LIMIT_RATIO must be above 0 and at most 1")

# Failed admin logins (issue 16): past either limit, logins are refused (429) until the window ends.
ADMIN_LOGIN_FAILURE_RATE_PER_ADDRESS = os.getenv("ADMIN_LOGIN_FAILURE_RATE_PER_ADDRESS", "20/h")
ADMIN_LOGIN_FAILURE_RATE_PER_USERNAME = os.getenv("ADMIN_LOGIN_FAILURE_RATE_PER_USERNAME", "10/h")

# --- end Admin ---

# --- Operations (metrics, retention, Redis on the send path) ---

import ipaddress  # noqa: E402


def envnetworks(name):
    """A comma-separated list of addresses or CIDR networks."""
    networks = []
    for part in os.getenv(name, "").split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ImproperlyConfigured(f"{name}: {part.strip()!r} is not an address or network") from None
    return networks


# GET /metrics (Prometheus): off (404) unless METRICS_TOKEN is set; then Bearer METRICS_TOKEN is required.
METRICS_TOKEN = envsecret("METRICS_TOKEN") or ""
METRICS_ALLOWED_IPS = envnetworks("METRICS_ALLOWED_IPS")  # empty: any address (with the token)
# Where every process writes its metric values; prometheus_client reads the variable when first imported.
PROMETHEUS_MULTIPROC_DIR = Path(os.getenv("PROMETHEUS_MULTIPROC_DIR") or VAR_DIR / "prometheus")
PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(PROMETHEUS_MULTIPROC_DIR)
METRICS_SAMPLE_INTERVAL = envfloat("METRICS_SAMPLE_INTERVAL", 15.0)  # beat samples kilopush_due_deliveries

# Retention: a beat task deletes old rows in batches (messaging/retention.py).
MESSAGE_RETENTION_DAYS = envint("MESSAGE_RETENTION_DAYS", 90)  # 0 keeps messages forever
DELIVERY_RETENTION_DAYS = envint("DELIVERY_RETENTION_DAYS", 14)  # finished deliveries; 0 keeps them
DAILY_COUNT_RETENTION_DAYS = envint("DAILY_COUNT_RETENTION_DAYS", 7)  # per-channel daily quota counters
RETENTION_BATCH_SIZE = envint("RETENTION_BATCH_SIZE", 1000)  # rows per DELETE (one short transaction each)
RETENTION_INTERVAL = envfloat("RETENTION_INTERVAL", 3600.0)

# Redis calls on the send path give up after REDIS_TIMEOUT seconds; after a failure the send path
# skips Redis for REDIS_BREAKER_SECONDS (the sweep delivers what was accepted meanwhile).
REDIS_TIMEOUT = envfloat("REDIS_TIMEOUT", 0.25)
REDIS_BREAKER_SECONDS = envfloat("REDIS_BREAKER_SECONDS", 5.0)
if REDIS_URL:
    CACHES["default"]["OPTIONS"] = {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT}

CELERY_BEAT_SCHEDULE.update({
    "metrics-sample": {"task": "messaging.tasks.sample_metrics", "schedule": METRICS_SAMPLE_INTERVAL},
    "retention-purge": {"task": "messaging.tasks.purge_old_rows", "schedule": RETENTION_INTERVAL},
})

# --- end Operations ---

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The languages of the web app and the admin: English, and one per folder of locale/ that holds a catalog
# (locale/ru/LC_MESSAGES/django.po): adding a language takes no code change (docs/translating.md).
LOCALE_PATHS = [BASE_DIR / "locale"]


def _languages():
    from django.conf.locale import LANG_INFO

    found = sorted(
        path.parent.parent.name
        for path in (BASE_DIR / "locale").glob("*/LC_MESSAGES/django.po")
        if path.parent.parent.name != "en"
    )
    names = {code: LANG_INFO.get(code.lower().replace("_", "-"), {}).get("name_local", code) for code in found}
    return [("en", "English")] + [(code.lower().replace("_", "-"), names[code]) for code in found]


LANGUAGES = _languages()
# The web app's language switch (Settings) stores the choice in this cookie, on the device.
LANGUAGE_COOKIE_NAME = "kp_language"
LANGUAGE_COOKIE_AGE = 10 * 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.getenv("STATIC_ROOT", VAR_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Static files are served by WhiteNoise from the apps too, so `make run` needs no collectstatic to show the web app.
WHITENOISE_USE_FINDERS = envbool("WHITENOISE_USE_FINDERS", True)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.getenv("MEDIA_ROOT", VAR_DIR / "media"))
# true: MEDIA_ROOT is on storage every node mounts (or there is one node); silences kilopush.W030.
MEDIA_ROOT_SHARED = envbool("MEDIA_ROOT_SHARED", False)

# Media (channel logos): MEDIA_ROOT on this machine, or with STORAGE_S3_BUCKET any S3-compatible store,
# which every node shares (django-storages; kilopush/storage.py).
STORAGE_S3_BUCKET = os.getenv("STORAGE_S3_BUCKET", "")
STORAGE_S3_ENDPOINT_URL = os.getenv("STORAGE_S3_ENDPOINT_URL", "").rstrip("/")  # unset: AWS S3
STORAGE_S3_REGION = os.getenv("STORAGE_S3_REGION", "")
# Both unset: boto3's own chain (AWS_ACCESS_KEY_ID, ~/.aws, an instance role).
STORAGE_S3_ACCESS_KEY_ID = envsecret("STORAGE_S3_ACCESS_KEY_ID", "")
STORAGE_S3_SECRET_ACCESS_KEY = envsecret("STORAGE_S3_SECRET_ACCESS_KEY", "")
STORAGE_S3_PREFIX = os.getenv("STORAGE_S3_PREFIX", "").strip("/")  # keys start with it, e.g. kilopush/logos/…
STORAGE_S3_ADDRESSING_STYLE = envchoice("STORAGE_S3_ADDRESSING_STYLE", "auto", ("auto", "path", "virtual"))
# Where the bucket's objects are public (a CDN, a public bucket): logo URLs point there. Unset: the
# platform serves them from the store at MEDIA_URL (channels_app's logo view), with no expiring signatures.
STORAGE_S3_PUBLIC_URL = os.getenv("STORAGE_S3_PUBLIC_URL", "").rstrip("/")
_s3_given = [n for n in ("STORAGE_S3_ENDPOINT_URL", "STORAGE_S3_ACCESS_KEY_ID", "STORAGE_S3_PUBLIC_URL") if globals()[n]]
if _s3_given and not STORAGE_S3_BUCKET:
    raise ImproperlyConfigured(f"{_s3_given[0]} is set but STORAGE_S3_BUCKET is not: media would stay in MEDIA_ROOT")
if STORAGE_S3_BUCKET:
    from urllib.parse import urlsplit as _urlsplit

    if bool(STORAGE_S3_ACCESS_KEY_ID) != bool(STORAGE_S3_SECRET_ACCESS_KEY):
        raise ImproperlyConfigured("Set both STORAGE_S3_ACCESS_KEY_ID and STORAGE_S3_SECRET_ACCESS_KEY, or neither")
    for _name in ("STORAGE_S3_ENDPOINT_URL", "STORAGE_S3_PUBLIC_URL"):
        _parts = _urlsplit(globals()[_name])
        if globals()[_name] and (_parts.scheme not in ("http", "https") or not _parts.hostname):
            raise ImproperlyConfigured(f"{_name} must be an absolute http(s) URL, not {globals()[_name]!r}")
    _public = _urlsplit(STORAGE_S3_PUBLIC_URL)
    STORAGES["default"] = {
        "BACKEND": "kilopush.storage.MediaS3Storage",
        "OPTIONS": {
            "bucket_name": STORAGE_S3_BUCKET,
            "endpoint_url": STORAGE_S3_ENDPOINT_URL or None,
            "region_name": STORAGE_S3_REGION or None,
            "access_key": STORAGE_S3_ACCESS_KEY_ID or None,
            "secret_key": STORAGE_S3_SECRET_ACCESS_KEY or None,
            "location": STORAGE_S3_PREFIX,
            "addressing_style": None if STORAGE_S3_ADDRESSING_STYLE == "auto" else STORAGE_S3_ADDRESSING_STYLE,
            "custom_domain": (_public.netloc + _public.path) or None,
            "url_protocol": f"{_public.scheme or 'https'}:",
            "querystring_auth": False,
            "default_acl": None,
            "object_parameters": {"CacheControl": f"public, max-age={LOGO_CACHE_SECONDS}, immutable"},
        },
    }

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "kilopush.errors.drf_exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["kilopush.answers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"aioapns_retried": {"()": "messaging.providers.apns_logging.RetriedConnectionFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": sys.stderr, "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}, "aioapns": {"filters": ["aioapns_retried"]}},
}
