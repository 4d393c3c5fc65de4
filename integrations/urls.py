"""The integrations' URLs (included from wiring/urls.py; POST / is wired there, beside the web app's GET /)."""

from django.urls import path, re_path

from .gotify.views import create_message
from .hook.views import hook
from .ntfy.views import publish

urlpatterns = [
    path("v1/hooks/<str:key>", hook, name="hook"),
    path("message", create_message, name="gotify-message"),
    re_path(r"^(?P<key>k_[0-9a-f]{40})$", publish, name="ntfy-publish"),  # only keys are topics
]
