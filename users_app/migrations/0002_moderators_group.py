"""Creates the "Moderators" group: staff who view everything and verify/block, but never delete."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Moderators"
PERMISSIONS = {
    "users_app": ["view_appuser", "change_appuser", "view_device", "view_blacklistentry"],
    "channels_app": ["view_channel", "change_channel"],
    "messaging": ["view_message", "view_delivery"],
}


def create_moderators(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate); make sure they exist now.
    using = schema_editor.connection.alias
    for label in PERMISSIONS:
        create_permissions(global_apps.get_app_config(label), verbosity=0, apps=apps, using=using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name=GROUP)
    for label, codenames in PERMISSIONS.items():
        perms = Permission.objects.using(using).filter(
            content_type__app_label=label, codename__in=codenames
        )
        group.permissions.add(*perms)


def remove_moderators(apps, schema_editor):
    apps.get_model("auth", "Group").objects.using(schema_editor.connection.alias).filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("users_app", "0001_initial"),
        ("channels_app", "0002_initial"),
        ("messaging", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_moderators, remove_moderators)]
