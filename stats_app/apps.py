from django.apps import AppConfig


class StatsAppConfig(AppConfig):
    name = "stats_app"
    verbose_name = "Statistics"
