from django.db import models
from django.db.models import Q
from django.utils import timezone


class MessageQuerySet(models.QuerySet):
    def in_inbox(self, now=None):
        """Only messages still in their recipient's inbox: not removed, not past their ttl."""
        now = now or timezone.now()
        return self.filter(removed_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class Message(models.Model):
    # Why a message left the inbox; its row (and so its status) stays for MESSAGE_STATUS_DAYS.
    WITHDRAWN, EXPIRED, REPLACED, DELETED = "withdrawn", "expired", "replaced", "deleted"
    REMOVAL_REASONS = [
        (WITHDRAWN, "withdrawn by the sender"),
        (EXPIRED, "expired (ttl)"),
        (REPLACED, "replaced by a newer message"),
        (DELETED, "deleted by the recipient"),
    ]

    # No index of its own: the (recipient, -id) index below serves it (one index less written per send).
    recipient = models.ForeignKey("users_app.AppUser", on_delete=models.CASCADE, related_name="messages",
                                  db_index=False)
    channel = models.ForeignKey("channels_app.Channel", on_delete=models.CASCADE, related_name="messages")
    # The sender's optional title (one line, at most 250 characters); "" when absent.
    title = models.CharField(max_length=250, blank=True, default="", db_default="")
    text = models.TextField(max_length=1000)
    url = models.URLField(max_length=1000, blank=True)
    # How the inbox shows `text`: as it is, or Markdown rendered and sanitised (messaging/markdown.py).
    TEXT, MARKDOWN = "text", "markdown"
    format = models.CharField(max_length=8, choices=[(TEXT, "text"), (MARKDOWN, "Markdown")], default=TEXT,
                              db_default=TEXT)
    # An image: the sender's https link (never fetched), or an uploaded file stored under a random name
    # (messaging/attachments.py) with its type, size in pixels and bytes. The file goes when the message
    # leaves the inbox (withdraw, delete, ttl), by retention, and with its account or channel.
    attachment_url = models.URLField(max_length=1000, blank=True, default="", db_default="")
    attachment_file = models.CharField(max_length=100, blank=True, default="", db_default="")
    attachment_type = models.CharField(max_length=16, blank=True, default="", db_default="")
    attachment_width = models.PositiveIntegerField(null=True, blank=True)
    attachment_height = models.PositiveIntegerField(null=True, blank=True)
    attachment_size = models.PositiveIntegerField(null=True, blank=True)
    # None: normal alert with sound; True: time-sensitive; False: silent, inbox only.
    important = models.BooleanField(null=True, blank=True)
    # -2 inbox only, -1 quiet, 0 normal, 1 high, 2 emergency (issue 24); `important` is derived from it.
    priority = models.SmallIntegerField(default=0, db_default=0)
    # Priority 2: pushed again every emergency_retry seconds (the next at emergency_next_at, re-queued by
    # messaging/emergency.py) until acknowledged_at, until emergency_until, or until it leaves the inbox.
    emergency_retry = models.PositiveIntegerField(null=True, blank=True)
    emergency_until = models.DateTimeField(null=True, blank=True)
    emergency_next_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # Action buttons as the send API checked them, a JSON array ("" for none): view {label, url}, callback {label, id}.
    actions = models.TextField(blank=True, default="", db_default="")
    # False when the recipient had no active device at accept time: inbox only.
    had_devices = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # The sender's Idempotency-Key: a repeat within 24 h answers this message (unique per channel).
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    # ttl: no push after this, and the message leaves the inbox.
    expires_at = models.DateTimeField(null=True, blank=True)
    # The notification's collapse key; "" means the message's own id ("replace" takes the old one's).
    collapse_id = models.CharField(max_length=32, blank=True, default="", db_default="")
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_reason = models.CharField(max_length=16, choices=REMOVAL_REASONS, blank=True, default="", db_default="")

    objects = MessageQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["recipient", "-id"]),
            models.Index(
                fields=["expires_at"], name="message_expiry", condition=Q(expires_at__isnull=False, removed_at__isnull=True)
            ),
            models.Index(fields=["removed_at"], name="message_removed", condition=Q(removed_at__isnull=False)),
            models.Index(fields=["emergency_next_at"], name="message_emergency_next",
                         condition=Q(emergency_next_at__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="unique_idempotency_key",
            )
        ]

    @property
    def collapse_key(self):
        return self.collapse_id or str(self.pk)

    def __str__(self):
        """The admin's title of a message: its channel and its text, e.g. "Front door: Door bell"."""
        text = self.text if len(self.text) <= 60 else self.text[:59] + "…"
        return f"{self.channel.name}: {text}"

    @property
    def priority_label(self):
        """The priority in words, as `important` means it: normal, important (time-sensitive) or silent."""
        return {True: "important", False: "silent", None: "normal"}[self.important]


class Delivery(models.Model):
    """One push of one message to one device; the row is the truth, the queue a nudge."""

    QUEUED = "queued"  # waiting for a worker (first try, or a retry due at next_attempt_at)
    SENDING = "sending"  # claimed by a worker
    ACCEPTED = "accepted"  # the provider took it
    INVALID_TOKEN = "invalid_token"  # the device's token is dead; the device was deactivated
    REJECTED = "rejected"  # permanently refused for this message
    EXPIRED = "expired"  # still failing after the retry window, or the message's ttl ran out before the push
    CANCELLED = "cancelled"  # the message was withdrawn, replaced or deleted before the push
    STATES = [
        (QUEUED, "queued"),
        (SENDING, "sending"),
        (ACCEPTED, "accepted"),
        (INVALID_TOKEN, "invalid token"),
        (REJECTED, "rejected"),
        (EXPIRED, "expired"),
        (CANCELLED, "cancelled"),
    ]
    # A delivery pushes the message, or (after a withdraw) tells a device that got it to remove it.
    PUSH, WITHDRAW = "push", "withdraw"
    REPEAT = "repeat"  # an emergency's push again (one row per device, re-queued for each repeat)
    DISMISS = "dismiss"  # acknowledged (on any device): a device that showed it removes the notification
    KINDS = [(PUSH, "push"), (WITHDRAW, "withdraw"), (REPEAT, "repeat"), (DISMISS, "dismiss")]
    NOTIFICATION_GONE = (WITHDRAW, DISMISS)  # data-only pushes that take a shown notification away

    # No index of its own: unique_delivery_kind (message, device, kind) serves it (one index less per delivery).
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    device = models.ForeignKey("users_app.Device", on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=8, choices=KINDS, default=PUSH, db_default=PUSH)
    state = models.CharField(max_length=16, choices=STATES, default=QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    provider_message_id = models.CharField(max_length=255, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["message", "device", "kind"], name="unique_delivery_kind")]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self):
        return f"delivery of #{self.message_id} to device {self.device_id}: {self.state}"


class AttachmentDay(models.Model):
    """The bytes of attachments one channel stored on one UTC day (ATTACHMENT_DAILY_BYTES)."""

    channel = models.ForeignKey("channels_app.Channel", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    bytes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "day"], name="unique_attachment_day")]

    def __str__(self):
        return f"{self.bytes} bytes of channel {self.channel_id} on {self.day}"


class SendBan(models.Model):
    """A sender client refused with 4029 "Too many failed attempts" until `until` (messaging/bans.py).

    Kept in the database, not in Redis, so the send's one statement checks it without another round trip.
    """

    client = models.TextField(primary_key=True, help_text="the address the throttle counts: IPv4, or an IPv6 /64")
    until = models.DateTimeField()
    banned_at = models.DateTimeField()

    class Meta:
        verbose_name = "sender ban"

    def __str__(self):
        return f"{self.client} until {self.until:%Y-%m-%d %H:%M:%S}"


class VapidKey(models.Model):
    """The generated VAPID key (RFC 8292): one row, so every node signs with the same key (messaging/vapid.py).

    The PEM is encrypted with FIELD_ENCRYPTION_KEY. VAPID_PRIVATE_KEY, when set, is used instead.
    """

    ONLY = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=ONLY, editable=False)
    private_key = models.TextField(help_text="the PEM (PKCS#8), Fernet-encrypted with FIELD_ENCRYPTION_KEY")
    public_key = models.CharField(max_length=100, help_text="the application server key (base64url), for reading")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "VAPID key"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="one_vapid_key")]

    def __str__(self):
        return f"VAPID key {self.public_key[:12]}…"


class WebhookEvent(models.Model):
    """One event for a channel's webhook (issue 24), delivered at least once; the row is the truth, the task a nudge.

    `webhook_id` is the Standard Webhooks `webhook-id`, the same on every retry; `payload` the exact body.
    """

    QUEUED, SENDING, DELIVERED, FAILED = "queued", "sending", "delivered", "failed"
    STATES = [(QUEUED, "queued"), (SENDING, "sending"), (DELIVERED, "delivered"), (FAILED, "failed")]

    channel = models.ForeignKey("channels_app.Channel", on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(max_length=32)
    message_id = models.BigIntegerField(null=True, blank=True)
    webhook_id = models.CharField(max_length=40, unique=True)
    # One event of a kind per message (a second "delivered" is not an event); null: no such limit.
    dedupe_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    payload = models.TextField()
    state = models.CharField(max_length=16, choices=STATES, default=QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="the receiver's last HTTP status")
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"]), models.Index(fields=["channel", "-id"])]

    def __str__(self):
        return f"{self.type} #{self.message_id} to channel {self.channel_id}: {self.state}"


class ScheduledMessage(models.Model):
    """A send with `at` (issue 24), waiting for its time; recipients never read this table.

    Its id is taken from the messages' id sequence (messaging/scheduling.py), so the id the sender was
    given never names another message. At `at` the release inserts the real message with a fresh id
    (the newest of the inbox, so clients that page or resume by id see it) and links it here.
    """

    SCHEDULED, RELEASED, CANCELLED, FAILED = "scheduled", "released", "cancelled", "failed"
    STATES = [(SCHEDULED, "scheduled"), (RELEASED, "released"), (CANCELLED, "cancelled (withdrawn)"),
              (FAILED, "failed at release")]

    id = models.BigIntegerField(primary_key=True)
    channel = models.ForeignKey("channels_app.Channel", on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey("users_app.AppUser", on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(help_text="when it is delivered")
    state = models.CharField(max_length=16, choices=STATES, default=SCHEDULED)
    reason = models.CharField(max_length=64, blank=True, default="", help_text="why the release failed")
    # The released message (its id is the inbox's); it goes with that message.
    message = models.OneToOneField(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="scheduled")
    created_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="when it was cancelled or failed")
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    # The message as the send API checked it; ttl and an emergency's expire count from the release.
    title = models.CharField(max_length=250, blank=True, default="")
    text = models.TextField(max_length=1000)
    url = models.URLField(max_length=1000, blank=True, default="")
    format = models.CharField(max_length=8, default=Message.TEXT)
    attachment_url = models.URLField(max_length=1000, blank=True, default="")
    attachment_file = models.CharField(max_length=100, blank=True, default="")
    attachment_type = models.CharField(max_length=16, blank=True, default="")
    attachment_width = models.PositiveIntegerField(null=True, blank=True)
    attachment_height = models.PositiveIntegerField(null=True, blank=True)
    attachment_size = models.PositiveIntegerField(null=True, blank=True)
    important = models.BooleanField(null=True, blank=True)
    priority = models.SmallIntegerField(default=0)
    emergency_retry = models.PositiveIntegerField(null=True, blank=True)
    emergency_expire = models.PositiveIntegerField(null=True, blank=True)
    actions = models.TextField(blank=True, default="")
    ttl = models.PositiveIntegerField(null=True, blank=True)
    replace = models.BigIntegerField(null=True, blank=True, help_text="the message this one replaces at release")
    collapse_id = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["at"], name="scheduled_due", condition=Q(state="scheduled")),
            models.Index(fields=["ended_at"], name="scheduled_ended", condition=Q(ended_at__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(fields=["channel", "idempotency_key"], condition=Q(idempotency_key__isnull=False),
                                    name="unique_scheduled_idempotency_key")
        ]

    def __str__(self):
        return f"#{self.pk} to user {self.recipient_id} at {self.at:%Y-%m-%d %H:%M:%S}: {self.state}"


class InboxEvent(models.Model):
    """A read, a delete or an acknowledgement in someone's inbox, kept a while so every stream process finds it by id.

    Written in the same transaction as the change itself; pub/sub only says "look now". messaging records
    it (inbox_events.py), the stream only transports it; its table keeps the name it had in stream_app.
    """

    READ = "read"  # data: {"ids": [...]} or {"up_to": N}
    DELETED = "deleted"  # data: {"id": N}
    ACKNOWLEDGED = "acknowledged"  # data: {"id": N}; an emergency's repeats stopped (its READ comes too, if unread)
    KINDS = [(READ, "read"), (DELETED, "deleted"), (ACKNOWLEDGED, "acknowledged")]

    user = models.ForeignKey("users_app.AppUser", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=KINDS)
    data = models.TextField()  # the event's JSON, sent as it is
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "stream_app_inboxevent"

    def __str__(self):
        return f"{self.kind} for {self.user_id}: {self.data}"
