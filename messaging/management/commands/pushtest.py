"""manage.py pushtest USER_TOKEN: a real test push to every device of one user, with each provider's answer."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from messaging.providers import chosen, get_provider
from messaging.providers.base import Outcome, Push
from users_app.models import AppUser, Device


class Command(BaseCommand):
    help = ("Sends a test push to every device of the user with this User Token through the configured providers "
            "and prints each provider's answer. Exits with 1 if a device was refused (or there is none). "
            "Nothing is stored: the push does not appear in the inbox.")

    def add_arguments(self, parser):
        parser.add_argument("user_token", help="the User Token (u_...) shown in the app and in the admin")
        parser.add_argument("--message", default="KILO.Push test: this device receives pushes.")

    def handle(self, *args, user_token, message, **options):
        user = AppUser.objects.filter(token=user_token).first()
        if user is None:
            raise CommandError(f"No user with the User Token {user_token!r}")
        devices = list(user.devices.order_by("id"))
        pushable = [d for d in devices if d.platform in Device.PUSH_PLATFORMS]
        for device in devices:
            if device not in pushable:
                self.stdout.write(f"device {device.pk} ({device.platform}): skipped, no push provider for it")
            elif not device.is_active or not device.push_token:
                why = device.deactivation_reason or ("no push token" if not device.push_token else "inactive")
                self.stdout.write(f"device {device.pk} ({device.platform}): skipped, {why}")
        targets = [d for d in pushable if d.is_active and d.push_token]
        if not targets:
            raise CommandError(f"User {user_token} has no active device with a push token")
        refused = 0
        for device in targets:
            provider_name, why_off = chosen(device.platform)
            push = Push(
                delivery_id=0, token=device.push_token, title="KILO.Push", body=message,
                data={"message_id": "0", "channel_token": "", "test": "1"}, collapse_id="pushtest",
                sandbox=device.sandbox, badge=0 if device.platform == Device.IOS else None,
            )
            try:
                [result] = get_provider(device.platform).send([push])
            except Exception as exc:  # a provider that cannot even be built or called: report it, go on
                self.stdout.write(f"device {device.pk} ({device.platform}, {provider_name}): failed, {exc!r}")
                refused += 1
                continue
            label = f"device {device.pk} ({device.platform}, {provider_name}"
            label += f"; {why_off})" if why_off else ")"
            if result.outcome is Outcome.ACCEPTED:
                self.stdout.write(f"{label}: accepted {result.provider_id}".rstrip())
            else:
                refused += 1
                self.stdout.write(f"{label}: {result.outcome.value}, {result.reason}")
        if refused:
            raise CommandError(f"{refused} of {len(targets)} device(s) refused")
        if not settings.SITE_URL:
            self.stdout.write("(SITE_URL is not set: pushes of channels with logos go out without images)")
