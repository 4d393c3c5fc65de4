from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="webapp"),
    path("sw.js", views.service_worker, name="webapp-sw"),
    path("manifest.webmanifest", views.manifest, name="webapp-manifest"),
    path("favicon.ico", views.favicon, name="webapp-favicon"),
    path("jsi18n/<str:language>/", views.catalog, name="webapp-catalog"),
]
