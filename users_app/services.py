import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from kilopush import crypto

from .models import AccessToken, AppUser, BlacklistEntry, Device, LinkCode

LINK_CODE_LIFETIME = timedelta(minutes=10)
# No 0/O, 1/I/L: a code is read off one screen and typed on another.
LINK_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LINK_CODE_LENGTH = 10


def new_access_token():
    return "a_" + secrets.token_urlsafe(32)


def access_token_create(*, user):
    """A new credential for the account (another browser or phone); returns the token, shown only once."""
    access_token = new_access_token()
    AccessToken.objects.create(user=user, digest=crypto.digest(access_token))
    return access_token


def normalize_link_code(code):
    """What a person typed, as stored: case, spaces and dashes do not matter."""
    return "".join(ch for ch in code.upper() if ch not in " -\t")


def link_code_create(*, user, now=None):
    """A single-use code, valid for 10 minutes, that links another browser or phone; returns (code, expires_at)."""
    now = now or timezone.now()
    code = "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))
    expires_at = now + LINK_CODE_LIFETIME
    LinkCode.objects.filter(expires_at__lt=now - LINK_CODE_LIFETIME).delete()  # old ones are of no use
    LinkCode.objects.create(user=user, digest=crypto.digest(code), expires_at=expires_at)
    return code, expires_at


@transaction.atomic
def link_code_redeem(*, code, now=None):
    """Uses the code once; returns (user, access_token), or None for a wrong, used or expired code alike."""
    now = now or timezone.now()
    digest = crypto.digest(normalize_link_code(code))
    # One conditional UPDATE: two browsers racing for one code cannot both win.
    if not LinkCode.objects.filter(digest=digest, used_at=None, expires_at__gt=now).update(used_at=now):
        return None
    user = AppUser.objects.get(link_codes__digest=digest)
    return user, access_token_create(user=user)


@transaction.atomic
def app_user_create(*, platform=Device.ANDROID, push_token="", sandbox=False, app_version="", locale=""):
    """Registers a new app install; returns (user, access_token). The token is shown only once."""
    user = AppUser.objects.create()
    access_token = access_token_create(user=user)
    Device.objects.create(
        user=user, platform=platform, push_token=push_token, sandbox=sandbox, app_version=app_version, locale=locale
    )
    return user, access_token


def app_user_set_blocked(*, user, blocked):
    AppUser.objects.filter(pk=user.pk).update(is_blocked=blocked)
    user.is_blocked = blocked


def blacklist_add(*, user, channel):
    entry, _ = BlacklistEntry.objects.get_or_create(user=user, channel=channel)
    return entry


def blacklist_remove(*, user, channel):
    BlacklistEntry.objects.filter(user=user, channel=channel).delete()


def app_user_delete(*, user):
    """Deletes the user with their devices, channels (and their logos), messages and blacklist."""
    from channels_app.services import logo_delete_on_commit

    with transaction.atomic():
        for name in user.channels.exclude(logo="").values_list("logo", flat=True):
            logo_delete_on_commit(name)
        AppUser.objects.filter(pk=user.pk).delete()


@transaction.atomic
def device_update(*, user, platform, push_token, sandbox=None, app_version=None, locale=None):
    """Records the install's current push token; a new token makes the device deliverable again.

    The same dead token sent again stays inactive: pushing to it would only fail again.
    """
    device = Device.objects.select_for_update().filter(user=user).order_by("-updated_at", "-id").first()
    if device is None:
        device = Device(user=user)
    renewed = (
        device.pk is None
        or device.platform != platform
        or device.push_token != push_token
        or (sandbox is not None and device.sandbox != sandbox)
    )
    device.platform = platform
    device.push_token = push_token
    if sandbox is not None:
        device.sandbox = sandbox
    if app_version is not None:
        device.app_version = app_version
    if locale is not None:
        device.locale = locale
    if renewed:
        device.is_active = True
        device.deactivated_at = None
        device.deactivation_reason = ""
    device.save()
    return device
