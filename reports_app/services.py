from django.db import transaction
from django.utils import timezone

from channels_app.models import Channel
from channels_app.services import channel_set_blocked
from kilopush.errors import NotFound
from messaging.models import Message
from users_app.services import blacklist_add

from .models import Report


@transaction.atomic
def report_create(*, reporter, reason, message_id=None, channel_token=None, comment="", block=False):
    """Files a report about one of the reporter's messages (any state) or about a channel; 4004 otherwise.

    The report copies what it is about, so it outlives the message, the channel and both accounts.
    `block` also puts the channel on the reporter's blacklist.
    """
    message = None
    if message_id is not None:
        message = (
            Message.objects.select_related("channel__owner").filter(recipient=reporter, id=message_id).first()
        )
        if message is None:
            raise NotFound("No such message")
        channel = message.channel
    else:
        channel = Channel.objects.select_related("owner").filter(token=channel_token).first()
        if channel is None:
            raise NotFound("No such channel")
    report = Report.objects.create(
        reporter=reporter,
        reporter_token=reporter.token,
        channel=channel,
        channel_token=channel.token,
        channel_name=channel.name,
        sender_token=channel.owner.token,
        message=message,
        message_ref=message.pk if message else None,
        message_text=message.text if message else "",
        message_url=message.url if message else "",
        message_sent_at=message.created_at if message else None,
        reason=reason,
        comment=comment,
        blocked=bool(block),
    )
    if block:
        blacklist_add(user=reporter, channel=channel)
    return report


def report_resolve(*, reports, by, now=None):
    """Marks open reports resolved; returns how many changed."""
    ids = [report.pk for report in reports]
    return Report.objects.filter(pk__in=ids, status=Report.OPEN).update(
        status=Report.RESOLVED, resolved_at=now or timezone.now(), resolved_by=by
    )


@transaction.atomic
def channel_block_and_resolve_reports(*, channel, by, now=None):
    """Staff block the channel (every send answers 4023) and close every open report about it."""
    channel_set_blocked(channel=channel, blocked=True)
    return Report.objects.filter(channel=channel, status=Report.OPEN).update(
        status=Report.RESOLVED, resolved_at=now or timezone.now(), resolved_by=by
    )
