from django.urls import path

from . import api

urlpatterns = [
    path("v1/app/reports", api.ReportsView.as_view(), name="app-reports"),
]
