import secrets

from django.core.validators import MinLengthValidator
from django.db import models

from kilopush import crypto


def new_channel_token():
    return crypto.random_hex_token("c_")


def new_channel_secret():
    return secrets.token_hex(32)


def new_webhook_secret():
    """A Standard Webhooks secret: whsec_ and the base64 of 32 random bytes."""
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Channel(models.Model):
    owner = models.ForeignKey("users_app.AppUser", on_delete=models.CASCADE, related_name="channels")
    name = models.CharField(max_length=64, validators=[MinLengthValidator(1)])
    logo = models.ImageField(upload_to="logos/", blank=True)
    token = models.CharField("Channel Token", max_length=42, unique=True, default=new_channel_token, editable=False)
    # The Channel Secret Key: encrypted so its owner can read it back, and a keyed
    # digest so a send compares in constant time without decrypting.
    secret_encrypted = models.TextField(editable=False)
    secret_digest = models.CharField(max_length=64, editable=False)
    is_verified = models.BooleanField("verified", default=False)
    is_blocked = models.BooleanField("blocked", default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Issue 24: where the channel's events are POSTed (signed per Standard Webhooks), "" for none; the
    # secret is encrypted like the Channel Secret Key (its owner reads it back).
    webhook_url = models.CharField(max_length=2000, blank=True, default="", db_default="")
    webhook_secret_encrypted = models.TextField(blank=True, default="", db_default="", editable=False)

    def __str__(self):
        return f"{self.name} ({self.token})"

    @property
    def webhook_secret(self):
        return crypto.decrypt(self.webhook_secret_encrypted) if self.webhook_secret_encrypted else ""

    @property
    def secret(self):
        return crypto.decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value):
        self.secret_encrypted = crypto.encrypt(value)
        self.secret_digest = crypto.digest(value)


class ChannelDailyCount(models.Model):
    """Accepted messages of one channel on one UTC day (the daily limit's counter)."""

    # No index of its own: unique_channel_day (channel, day) serves it (one index less per counted send).
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="daily_counts", db_index=False)
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "day"], name="unique_channel_day")]


class SendKey(models.Model):
    """One string that sends as its channel to one recipient (hooks, Gotify and ntfy publishing).

    Only its keyed digest is stored, like access tokens: the key itself is shown once, at creation.
    Revoking a key deletes its row.
    """

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="send_keys")
    recipient = models.ForeignKey("users_app.AppUser", on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=64, blank=True, default="")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["channel", "id"])]

    def __str__(self):
        return f"key {self.pk} of {self.channel_id} to {self.recipient_id}"
