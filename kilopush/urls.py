from django.contrib import admin
from django.urls import include, path

from kilopush.health import healthz
from messaging.api import send_message

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("v1/messages/send", send_message, name="send-message"),
    # --- App API ---
    path("", include("kilopush.app_urls")),
    # --- end App API ---
    # --- Admin ---
    path("admin/", include("kilopush.admin_urls")),
    path("admin/", admin.site.urls),
    # --- end Admin ---
    # --- Web app ---
    path("", include("webapp.urls")),
    # --- end Web app ---
]
