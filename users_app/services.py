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


def blacklist_add(*, user, channel):
    entry, _ = BlacklistEntry.objects.get_or_create(user=user, channel=channel)
    return entry


def blacklist_remove(*, user, channel):
    BlacklistEntry.objects.filter(user=user, channel=channel).delete()
