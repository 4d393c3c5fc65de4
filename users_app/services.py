import secrets

from django.db import transaction

from kilopush import crypto

from .models import AppUser, BlacklistEntry, Device


def new_access_token():
    return "a_" + secrets.token_urlsafe(32)


@transaction.atomic
def app_user_create(*, platform=Device.ANDROID, push_token="", sandbox=False, app_version="", locale=""):
    """Registers a new app install; returns (user, access_token). The token is shown only once."""
    access_token = new_access_token()
    user = AppUser.objects.create(access_token_digest=crypto.digest(access_token))
    Device.objects.create(
        user=user, platform=platform, push_token=push_token, sandbox=sandbox, app_version=app_version, locale=locale
    )
    return user, access_token


def app_user_set_blocked(*, user, blocked):
    AppUser.objects.filter(pk=user.pk).update(is_blocked=blocked)
    user.is_blocked = blocked


def app_user_set_read_receipts(*, user, enabled):
    """Whether senders see that (and when) this user read their messages."""
    AppUser.objects.filter(pk=user.pk).update(read_receipts=enabled)
    user.read_receipts = enabled


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
