"""The Moderators group handles abuse reports: view them, resolve them, block the channel."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Moderators"
CODENAMES = ["view_report", "change_report"]


def add_report_permissions(apps, schema_editor):
    using = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("reports_app"), verbosity=0, apps=apps, using=using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name=GROUP)
    perms = Permission.objects.using(using).filter(content_type__app_label="reports_app", codename__in=CODENAMES)
    group.permissions.add(*perms)


def remove_report_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="reports_app", codename__in=CODENAMES)
    for group in Group.objects.filter(name=GROUP):
        group.permissions.remove(*perms)


class Migration(migrations.Migration):
    dependencies = [
        ("reports_app", "0001_initial"),
        ("users_app", "0002_moderators_group"),
    ]

    operations = [migrations.RunPython(add_report_permissions, remove_report_permissions)]
