"""System checks on SECRET_KEY: kilopush.E100 (a deployment without one), kilopush.W100 (the old built-in one)."""

from django.conf import settings
from django.core import checks

from kilopush.secret_key import LEGACY_BUILTIN_KEY

E100_MESSAGE = (
    "SECRET_KEY is not set. With PostgreSQL (a deployment) there is no default: Channel Secret Keys are "
    "encrypted and access tokens digested with a key derived from it."
)


def secret_key_errors():
    origin = getattr(settings, "SECRET_KEY_ORIGIN", "env")
    embedded = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    if not embedded and (origin == "missing" or settings.SECRET_KEY == LEGACY_BUILTIN_KEY):
        message = E100_MESSAGE if origin == "missing" else "SECRET_KEY is the former built-in key, which is public."
        return [
            checks.Error(
                message,
                hint="Set SECRET_KEY (or SECRET_KEY_FILE) to a long random value, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`, the same for every process.",
                id="kilopush.E100",
            )
        ]
    if settings.SECRET_KEY == LEGACY_BUILTIN_KEY:
        return [
            checks.Warning(
                "SECRET_KEY is the former built-in key, which is public: anyone with this database file can "
                "decrypt its Channel Secret Keys.",
                hint=f"The embedded database predates the generated key in {settings.VAR_DIR}/secret_key. "
                "Start afresh (`make clean`, then `make run`) or set SECRET_KEY for a new database.",
                id="kilopush.W100",
            )
        ]
    return []


@checks.register(checks.Tags.security, deploy=False)
def check_secret_key(app_configs=None, **kwargs):
    return secret_key_errors()


def refuse_to_start():
    """For entry points that run no system checks (gunicorn): the same refusal, as an exception."""
    from django.core.exceptions import ImproperlyConfigured

    errors = [e for e in secret_key_errors() if e.is_serious()]
    if errors:
        raise ImproperlyConfigured(f"{errors[0].id}: {errors[0].msg} {errors[0].hint}")
