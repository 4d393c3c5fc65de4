"""What users_app tells the higher layers, which listen (users_app imports none of them).

account_changed(user_id): an access token died or the account was blocked or deleted; messaging wakes
    the user's streams, which close (messaging/receivers.py).
account_deleting(user): app_user_delete is about to delete the account, inside its transaction;
    channels_app deletes the logo files of its channels once it commits (channels_app/receivers.py).
"""

from django.dispatch import Signal

account_changed = Signal()
account_deleting = Signal()
