from django.apps import AppConfig


class StreamAppConfig(AppConfig):
    name = "stream_app"
    verbose_name = "Live stream"
    default_auto_field = "django.db.models.BigAutoField"
