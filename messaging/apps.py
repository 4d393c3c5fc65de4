from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self):
        from kilopush import checks  # noqa: F401  (registers kilopush.E001-E099, W001-W099)

        from . import checks as messaging_checks  # noqa: F401  (kilopush.W001, W021, E021-E023)
        from . import tasks  # noqa: F401  (registered here: queueing and webhooks queue them by name)
        from . import receivers  # noqa: F401  (account and channel deletion delete attachment files; account changes wake streams)
        from kilopush import metrics
        from kilopush.errors import CODES
        from users_app.models import Device

        metrics.start_families(platforms=Device.PUSH_PLATFORMS, statuses=(200, *CODES, 500))
