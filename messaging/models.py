from django.db import models


class Message(models.Model):
    recipient = models.ForeignKey("users_app.AppUser", on_delete=models.CASCADE, related_name="messages")
    channel = models.ForeignKey("channels_app.Channel", on_delete=models.CASCADE, related_name="messages")
    text = models.TextField(max_length=1000)
    url = models.URLField(max_length=1000, blank=True)
    # None: normal alert with sound; True: time-sensitive; False: silent, inbox only.
    important = models.BooleanField(null=True, blank=True)
    # False when the recipient had no active device at accept time: inbox only.
    had_devices = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["recipient", "-id"])]

    def __str__(self):
        return f"#{self.pk} to {self.recipient_id}"


class Delivery(models.Model):
    """One push of one message to one device; the row is the truth, the queue a nudge."""

    QUEUED = "queued"  # waiting for a worker (first try, or a retry due at next_attempt_at)
    SENDING = "sending"  # claimed by a worker
    ACCEPTED = "accepted"  # the provider took it
    INVALID_TOKEN = "invalid_token"  # the device's token is dead; the device was deactivated
    REJECTED = "rejected"  # permanently refused for this message
    EXPIRED = "expired"  # still failing after the retry window
    STATES = [
        (QUEUED, "queued"),
        (SENDING, "sending"),
        (ACCEPTED, "accepted"),
        (INVALID_TOKEN, "invalid token"),
        (REJECTED, "rejected"),
        (EXPIRED, "expired"),
    ]

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries")
    device = models.ForeignKey("users_app.Device", on_delete=models.CASCADE, related_name="deliveries")
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
        constraints = [models.UniqueConstraint(fields=["message", "device"], name="unique_delivery")]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self):
        return f"delivery of #{self.message_id} to device {self.device_id}: {self.state}"
