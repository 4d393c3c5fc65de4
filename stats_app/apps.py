from django.apps import AppConfig


class StatsAppConfig(AppConfig):
    name = "stats_app"
    verbose_name = "Statistics"

    def ready(self):
        from . import checks  # noqa: F401  (kilopush.W020)
