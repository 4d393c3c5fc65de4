from django.db import models
from django.db.models.functions import MD5

from kilopush.crypto import random_hex_token


def new_user_token():
    return random_hex_token("u_")


class AppUser(models.Model):
    """A person with the app. `token` is their public address, never a credential."""

    token = models.CharField("User Token", max_length=42, unique=True, default=new_user_token, editable=False)
    is_blocked = models.BooleanField("blocked", default=False)
    # Senders see when a message was read (POST /v1/messages/status) only if this is on.
    read_receipts = models.BooleanField(default=True, db_default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "app user"

    def __str__(self):
        return self.token


class AccessToken(models.Model):
    """One of the account's app credentials: each linked browser or phone has its own."""

    user = models.ForeignKey(AppUser, on_delete=models.CASCADE, related_name="access_tokens")
    # Kept only as a keyed digest (kilopush.crypto.digest).
    digest = models.CharField(max_length=64, unique=True, editable=False)
    # What the person sees in their list of sessions ("Chrome on Linux"), from the User-Agent or the platform.
    label = models.CharField(max_length=64, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    # Updated at most every ACCESS_TOKEN_TOUCH_INTERVAL, not on every request.
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"access token of {self.user_id}"


class LinkCode(models.Model):
    """A short-lived, single-use code that gives another browser or phone an access token to the account."""

    user = models.ForeignKey(AppUser, on_delete=models.CASCADE, related_name="link_codes")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"link code of {self.user_id}"


class Device(models.Model):
    ANDROID, IOS, WEB = "android", "ios", "web"
    PLATFORMS = [(ANDROID, "Android"), (IOS, "iOS"), (WEB, "Web")]
    PUSH_PLATFORMS = (ANDROID, IOS, WEB)  # the platforms a push provider delivers to
    PHONE_PLATFORMS = (ANDROID, IOS)  # the platforms whose push token is a plain string

    user = models.ForeignKey(AppUser, on_delete=models.CASCADE, related_name="devices")
    platform = models.CharField(max_length=8, choices=PLATFORMS)
    # FCM or APNs token, or a Web Push subscription's endpoint; it belongs to one device of one account.
    push_token = models.CharField(max_length=4096, blank=True)
    # Web Push: the subscription's keys (RFC 8291), base64url.
    web_p256dh = models.CharField("Web Push p256dh", max_length=100, blank=True)
    web_auth = models.CharField("Web Push auth", max_length=32, blank=True)
    label = models.CharField(max_length=64, blank=True, help_text="The person's name for it (\"Laptop\")")
    is_active = models.BooleanField("active", default=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivation_reason = models.CharField(max_length=255, blank=True)
    sandbox = models.BooleanField(default=False, help_text="APNs development environment")
    app_version = models.CharField(max_length=64, blank=True)
    locale = models.CharField(max_length=35, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_seen_at = models.DateTimeField(null=True, blank=True, help_text="When the device last registered itself")
    # The session (access token) that registered it last: signing that session out stops its pushes.
    session = models.ForeignKey(AccessToken, null=True, blank=True, editable=False, on_delete=models.SET_NULL,
                                related_name="devices")

    class Meta:
        indexes = [models.Index(fields=["user", "is_active"])]
        constraints = [
            # On a digest: a 4096-character token would not fit in a btree index entry.
            models.UniqueConstraint(
                MD5("push_token"), condition=~models.Q(push_token=""), name="unique_device_push_token"
            ),
        ]

    def __str__(self):
        return f"{self.get_platform_display()} device of {self.user_id}"

    @property
    def receives_pushes(self):
        """Active, with a push token, and for a browser a Web Push subscription (notifications on): the rule of
        the send's device list (messaging/services.py: _devices_where) and so of a message's had_devices."""
        return self.is_active and bool(self.push_token) and (self.platform != self.WEB or bool(self.web_auth))


# The devices that receive pushes (Device.receives_pushes), as a filter.
RECEIVES_PUSHES = (models.Q(is_active=True) & ~models.Q(push_token="")
                   & (~models.Q(platform=Device.WEB) | ~models.Q(web_auth="")))


class BlacklistEntry(models.Model):
    """A recipient's refusal of one channel."""

    user = models.ForeignKey(AppUser, on_delete=models.CASCADE, related_name="blacklist")
    channel = models.ForeignKey("channels_app.Channel", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "blacklist entry"
        verbose_name_plural = "blacklist entries"
        constraints = [models.UniqueConstraint(fields=["user", "channel"], name="unique_blacklist_entry")]

    def __str__(self):
        return f"{self.user_id} blacklists {self.channel_id}"
