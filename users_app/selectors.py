from kilopush import crypto

from .models import AppUser


def app_user_by_access_token(access_token):
    if not access_token:
        return None
    return AppUser.objects.filter(access_tokens__digest=crypto.digest(access_token)).first()



def blacklisted_channels(user):
    from channels_app.models import Channel

    return Channel.objects.filter(pk__in=user.blacklist.values("channel_id")).order_by("name", "id")


def device_of(user):
    return user.devices.order_by("-updated_at", "-id").first()


def blacklisted_channel(*, user, token):
    """The channel with this token if the user blacklisted it, else None."""
    from channels_app.selectors import is_channel_token

    if not is_channel_token(token):
        return None
    return blacklisted_channels(user).filter(token=token).first()
