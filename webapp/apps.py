from django.apps import AppConfig


class WebappConfig(AppConfig):
    name = "webapp"
    verbose_name = "Web app"

    def ready(self):
        from django.contrib import admin
        from django.utils.translation import gettext_lazy as _

        # The staff admin names the platform, and its "View site" leads to the web app.
        admin.site.site_header = _("KILO.Push administration")
        admin.site.site_title = _("KILO.Push admin")
        admin.site.site_url = "/"
