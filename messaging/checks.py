"""Configuration checks that read the apps' data (kilopush.W001, E021-E023, W021); W020: stats_app/checks.py; the rest:
kilopush/checks.py."""

from django.conf import settings
from django.core import checks


@checks.register("kilopush")
def check_logos_need_site_url(app_configs=None, **kwargs):
    if settings.SITE_URL:
        return []  # kilopush/checks.py checks SITE_URL itself
    from django.db import DatabaseError

    from channels_app.models import Channel

    try:
        with_logos = Channel.objects.exclude(logo="").exists()
    except DatabaseError:
        return []  # unreachable or not migrated: kilopush.W011 says so
    if not with_logos or settings.MEDIA_URL.startswith(("http://", "https://")):
        return []
    return [checks.Warning(
        "Channels have logos but SITE_URL is not set: pushes go out without images and the API without logo URLs",
        hint="Set SITE_URL to this server's public address, e.g. https://push.example.org",
        id="kilopush.W001",
    )]


@checks.register("kilopush")
def check_vapid_key_shared(app_configs=None, **kwargs):
    """Every node must sign Web Pushes with one VAPID key: the browsers subscribed with it (issue 23, item 11)."""
    from django.core.exceptions import ImproperlyConfigured
    from django.db import DatabaseError, ProgrammingError

    from . import vapid

    try:
        stored = vapid.stored_pem(create=False)
    except ProgrammingError:
        return [checks.Warning(
            "The VAPID key cannot be stored yet: the database is not migrated",
            hint="Run `python manage.py migrate`; until then Web Push has no key every node shares.",
            id="kilopush.W021",
        )]
    except ImproperlyConfigured as exc:
        return [checks.Error(
            str(exc),
            hint="Give this node the FIELD_ENCRYPTION_KEY (or SECRET_KEY) of the others; a key of its own would "
                 "be refused by every browser subscribed through them.",
            id="kilopush.E023",
        )]
    except DatabaseError:
        return []  # unreachable: kilopush.W011 says so
    if stored is None:
        return []  # the first process that needs it generates it (or stores the legacy file's)
    stored_point = vapid.public_key_point(vapid.load_pem(stored, "the stored VAPID key"))
    configured = settings.VAPID_PRIVATE_KEY
    if configured:
        try:
            if vapid.public_key_point(vapid.load_pem(configured)) != stored_point:
                return [checks.Error(
                    "VAPID_PRIVATE_KEY differs from the VAPID key stored in the database: nodes without "
                    "VAPID_PRIVATE_KEY sign with the stored one, so browsers subscribed through one node are "
                    "refused when another pushes",
                    hint="Unset VAPID_PRIVATE_KEY on every node (the stored key is shared without configuration), "
                         "or set the same VAPID_PRIVATE_KEY on every node and delete the stored key: "
                         "`python manage.py shell -c \"from messaging.models import VapidKey; "
                         "VapidKey.objects.all().delete()\"`.",
                    id="kilopush.E021",
                )]
        except ImproperlyConfigured:
            return []  # not a key at all: kilopush.E020 says so
        return []
    legacy = vapid.legacy_key_file()
    if legacy is not None:
        try:
            differs = vapid.public_key_point(vapid.load_pem(legacy.read_text(), str(legacy))) != stored_point
        except (ImproperlyConfigured, OSError):
            differs = True
        if differs:
            return [checks.Error(
                f"{legacy} (a VAPID key this node generated before keys were stored in the database) differs "
                "from the stored key, which every node now signs with: browsers subscribed through this node "
                "with the old key will be refused",
                hint=f"Delete {legacy} (those browsers subscribe again when the web app next opens), or make it "
                     "the shared key: set VAPID_PRIVATE_KEY to its contents on every node and delete the stored "
                     "key.",
                id="kilopush.E022",
            )]
    return []
