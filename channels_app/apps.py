from django.apps import AppConfig


class ChannelsAppConfig(AppConfig):
    name = "channels_app"
    verbose_name = "Channels"

    def ready(self):
        from kilopush import checks_secret  # noqa: F401  (registers kilopush.E100 / W100)

        from . import receivers  # noqa: F401  (an account's deletion deletes its channels' logos)
