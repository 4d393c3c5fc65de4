"""Settings of the test run: kilopush.settings with a fixed SECRET_KEY unless one is given.

Set in the environment, so every process a test starts (gunicorn, celery) derives the same
encryption and digest keys as the test process. A deployment without SECRET_KEY is refused
(kilopush.E100); tests/abuse/test_secret_key.py checks that in a subprocess.
"""

import os

os.environ.setdefault("SECRET_KEY", "kilopush-test-suite-key-not-for-production-0123456789")

from kilopush.settings import *  # noqa: E402,F401,F403

# Hashing a password costs about a second on the shared CI machine; tests log in a lot.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The parity suite's SQLite half (tests/parity/conftest.py), the one run allowed on SQLite: its test database
# is a file beside DATABASE_URL's, as `make run`'s is a file (WAL, one writer at a time), not Django's shared
# in-memory database, whose table locks fail at once where the file's wait.
_default = DATABASES["default"]  # noqa: F405
if os.environ.get("KILOPUSH_PARITY") == "sqlite" and _default["ENGINE"] == "django.db.backends.sqlite3":
    _default["TEST"] = {"NAME": str(_default["NAME"]).removesuffix(".sqlite3") + "-test.sqlite3"}
