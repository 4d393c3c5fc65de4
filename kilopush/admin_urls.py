"""Admin pages beyond the model admins, mounted under /admin/ before admin.site.urls."""

from django.contrib import admin
from django.urls import path

from .admin_login import admin_login
from .admin_views import admin_stats

urlpatterns = [
    path("login/", admin_login, name="admin-login"),  # throttled; before admin.site.urls' own login/
    path("stats/", admin.site.admin_view(admin_stats), name="admin-stats"),
]
