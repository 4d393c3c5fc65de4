from django.conf import settings
from django.db import models


class Report(models.Model):
    """A recipient's abuse report about a message or a channel, for staff.

    The report keeps its own copy of what was reported (text, url, channel name and token,
    the sender's User Token): deleting the reporter's or the sender's account leaves it whole.
    """

    SPAM, ABUSE, OTHER = "spam", "abuse", "other"
    REASONS = [(SPAM, "spam"), (ABUSE, "abuse"), (OTHER, "other")]
    OPEN, RESOLVED = "open", "resolved"
    STATUSES = [(OPEN, "open"), (RESOLVED, "resolved")]

    reporter = models.ForeignKey(
        "users_app.AppUser", on_delete=models.SET_NULL, null=True, blank=True, related_name="reports"
    )
    reporter_token = models.CharField("reporter's User Token", max_length=42)
    channel = models.ForeignKey(
        "channels_app.Channel", on_delete=models.SET_NULL, null=True, blank=True, related_name="reports"
    )
    channel_token = models.CharField("Channel Token", max_length=42, db_index=True)
    channel_name = models.CharField(max_length=64)
    sender_token = models.CharField("channel owner's User Token", max_length=42, blank=True)
    message = models.ForeignKey(
        "messaging.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="reports"
    )
    message_ref = models.BigIntegerField("message id", null=True, blank=True)
    message_text = models.TextField(blank=True)
    message_url = models.CharField(max_length=1000, blank=True)
    message_sent_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=8, choices=REASONS)
    comment = models.CharField(max_length=500, blank=True)
    blocked = models.BooleanField("reporter blacklisted the channel", default=False)
    status = models.CharField(max_length=8, choices=STATUSES, default=OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["status", "-id"]), models.Index(fields=["channel", "status"])]

    def __str__(self):
        subject = f"message #{self.message_ref}" if self.message_ref else "channel"
        return f"Report #{self.pk}: {self.reason}, {subject} of {self.channel_name} ({self.channel_token})"
