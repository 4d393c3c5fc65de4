"""channels_app listens to users_app (which never imports it): an account's deletion takes its channels' logos."""

from django.dispatch import receiver

from users_app.signals import account_deleting

from .services import logo_delete_on_commit


@receiver(account_deleting, dispatch_uid="channels_app.account_logos")
def account_logos_delete(sender, user, **kwargs):
    for name in user.channels.exclude(logo="").values_list("logo", flat=True):
        logo_delete_on_commit(name)
