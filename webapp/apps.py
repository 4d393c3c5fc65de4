from django.apps import AppConfig


class WebappConfig(AppConfig):
    name = "webapp"
    verbose_name = "Web app"

    def ready(self):
        from django.contrib import admin

        # The staff admin names the platform, and its "View site" leads to the web app.
        admin.site.site_header = "KILO.Push administration"
        admin.site.site_title = "KILO.Push admin"
        admin.site.site_url = "/"
