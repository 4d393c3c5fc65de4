import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction

from kilopush import crypto
from kilopush.errors import Forbidden, InvalidValue

from .logos import logo_process
from .models import Channel, SendKey, new_channel_secret, new_webhook_secret
from .names import channel_name_problem

logger = logging.getLogger(__name__)


def _check_name(name):
    problem = channel_name_problem(name)
    if problem:
        raise InvalidValue(f"name: {problem}")


def channel_create(*, owner, name, logo=None):
    """Creates a channel; `logo` is an uploaded image, re-encoded by logo_process (4005 if unusable)."""
    _check_name(name)
    if logo is not None:
        logo = logo_process(logo)  # decoded outside the transaction that locks the owner
    return _channel_create(owner=owner, name=name, logo=logo)


@transaction.atomic
def _channel_create(*, owner, name, logo):
    # Lock the owner so two parallel creates cannot both pass the limit.
    type(owner).objects.select_for_update().filter(pk=owner.pk).first()
    if Channel.objects.filter(owner=owner).count() >= settings.CHANNELS_PER_USER:
        raise Forbidden(f"At most {settings.CHANNELS_PER_USER} channels per user")
    channel = Channel(owner=owner, name=name)
    channel.secret = new_channel_secret()
    if logo is not None:
        channel.logo = logo
    channel.full_clean(exclude=["logo", "secret_encrypted", "secret_digest"])
    channel.save()
    return channel


def channel_rotate_secret(*, channel):
    """Gives the channel a new Channel Secret Key; the old one stops working at once."""
    new_secret = new_channel_secret()
    channel.secret = new_secret
    channel.save(update_fields=["secret_encrypted", "secret_digest"])
    return new_secret


def channel_set_verified(*, channel, verified):
    Channel.objects.filter(pk=channel.pk).update(is_verified=verified)
    channel.is_verified = verified


def channel_set_blocked(*, channel, blocked):
    Channel.objects.filter(pk=channel.pk).update(is_blocked=blocked)
    channel.is_blocked = blocked


def logo_delete_on_commit(name):
    """Removes a stored logo file once the transaction that dropped it has committed."""

    def _delete():
        try:
            default_storage.delete(name)
        except Exception:
            logger.warning("Could not delete logo %s", name, exc_info=True)

    if name:
        transaction.on_commit(_delete)


_UNCHANGED = object()


@transaction.atomic
def channel_update(*, channel, name=None, logo=_UNCHANGED):
    """Renames a channel and/or replaces its logo (an upload) or removes it (logo=None)."""
    fields = []
    if name is not None:
        _check_name(name)
        channel.name = name
        try:
            channel.full_clean(exclude=["logo", "secret_encrypted", "secret_digest", "owner"])
        except ValidationError as exc:
            raise InvalidValue("; ".join(exc.messages)) from None
        fields.append("name")
    if logo is not _UNCHANGED:
        old = channel.logo.name
        channel.logo = logo_process(logo) if logo is not None else ""
        logo_delete_on_commit(old)
        fields.append("logo")
    if fields:
        channel.save(update_fields=fields)
    return channel


def channel_set_webhook(*, channel, url):
    """Sets (or with None/"" removes) the channel's webhook; 4005 for a URL the outbound guard refuses.

    The first webhook gets a secret; the secret stays when the URL changes (rotate it apart).
    """
    from kilopush import outbound

    url = url or ""
    if url:
        try:
            outbound.check(url, allow_hosts=settings.WEBHOOK_ALLOW_HOSTS)
        except outbound.Refused as exc:
            raise InvalidValue(f"webhook_url: {exc}") from None
    channel.webhook_url = url
    fields = ["webhook_url"]
    if url and not channel.webhook_secret_encrypted:
        channel.webhook_secret_encrypted = crypto.encrypt(new_webhook_secret())
        fields.append("webhook_secret_encrypted")
    channel.save(update_fields=fields)
    return channel


def channel_rotate_webhook_secret(*, channel):
    """A new webhook secret: events signed from now on use it. Returns it."""
    secret = new_webhook_secret()
    channel.webhook_secret_encrypted = crypto.encrypt(secret)
    channel.save(update_fields=["webhook_secret_encrypted"])
    return secret


@transaction.atomic
def channel_delete(*, channel):
    """Deletes a channel, with the messages it sent (cascade) and its logo file."""
    logo_delete_on_commit(channel.logo.name)
    channel.delete()


# --- send keys ---


def new_send_key():
    return crypto.random_hex_token("k_")


@transaction.atomic
def send_key_create(*, channel, recipient, label=""):
    """A new key that sends as `channel` to `recipient`; returns (SendKey, the key, shown only now)."""
    # Lock the channel so two parallel creates cannot both pass the limit.
    Channel.objects.select_for_update().filter(pk=channel.pk).first()
    if SendKey.objects.filter(channel=channel).count() >= settings.SEND_KEYS_PER_CHANNEL:
        raise Forbidden(f"At most {settings.SEND_KEYS_PER_CHANNEL} keys per channel")
    key = new_send_key()
    send_key = SendKey.objects.create(channel=channel, recipient=recipient, label=label, digest=crypto.digest(key))
    return send_key, key


def send_key_revoke(*, channel, key_id):
    """Deletes one of the channel's keys (it answers 401 at once); False if the channel has no such key."""
    return SendKey.objects.filter(channel=channel, pk=key_id).delete()[0] > 0
