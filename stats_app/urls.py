"""Admin pages beyond the model admins, mounted under /admin/ before admin.site.urls."""

from django.contrib import admin
from django.urls import path

from .views import admin_stats

urlpatterns = [
    path("stats/", admin.site.admin_view(admin_stats), name="admin-stats"),
]
