"""Deleting an account or a channel deletes the files of its messages' attachments; an account's change wakes its streams.

The messages themselves go by cascade in the database; their files are not rows, so messaging
listens to the deletion of the lower layers' models (they never import messaging).
"""

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from channels_app.models import Channel
from users_app.models import AppUser
from users_app.signals import account_changed

from . import attachments, inbox_events
from .models import Message
from .scheduling import files_of_pending


@receiver(pre_delete, sender=Channel, dispatch_uid="messaging.channel_attachments")
def channel_attachments_delete(sender, instance, **kwargs):
    attachments.delete_files_on_commit(attachments.files_of(Message.objects.filter(channel_id=instance.pk)))
    attachments.delete_files_on_commit(files_of_pending(channel_id=instance.pk))


@receiver(pre_delete, sender=AppUser, dispatch_uid="messaging.recipient_attachments")
def recipient_attachments_delete(sender, instance, **kwargs):
    attachments.delete_files_on_commit(attachments.files_of(Message.objects.filter(recipient_id=instance.pk)))
    attachments.delete_files_on_commit(files_of_pending(recipient_id=instance.pk))


@receiver(account_changed, dispatch_uid="messaging.account_changed")
def account_streams_wake(sender, user_id, **kwargs):
    inbox_events.account_changed(user_id=user_id)  # the user's open streams close (or at their next check)
