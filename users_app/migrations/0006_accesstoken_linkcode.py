"""Several access tokens per account (one per linked browser or phone), and link codes.

The existing credential of each account becomes its first AccessToken, so every app stays signed in.
"""

import django.db.models.deletion
from django.db import migrations, models


def copy_access_tokens(apps, schema_editor):
    AppUser = apps.get_model("users_app", "AppUser")
    AccessToken = apps.get_model("users_app", "AccessToken")
    using = schema_editor.connection.alias
    rows = AppUser.objects.using(using).values_list("pk", "access_token_digest", "created_at").iterator()
    batch = []
    for pk, digest, created_at in rows:
        batch.append(AccessToken(user_id=pk, digest=digest, created_at=created_at))
        if len(batch) >= 1000:
            AccessToken.objects.using(using).bulk_create(batch)
            batch = []
    AccessToken.objects.using(using).bulk_create(batch)


def restore_access_tokens(apps, schema_editor):
    # Back to one credential per account: each keeps its oldest one.
    AppUser = apps.get_model("users_app", "AppUser")
    AccessToken = apps.get_model("users_app", "AccessToken")
    using = schema_editor.connection.alias
    for token in AccessToken.objects.using(using).order_by("-created_at", "-id").iterator():
        AppUser.objects.using(using).filter(pk=token.user_id).update(access_token_digest=token.digest)


class Migration(migrations.Migration):
    dependencies = [
        ("users_app", "0005_appuser_read_receipts"),
    ]

    operations = [
        migrations.CreateModel(
            name="AccessToken",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("digest", models.CharField(editable=False, max_length=64, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="access_tokens",
                        to="users_app.appuser",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="LinkCode",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("digest", models.CharField(editable=False, max_length=64, unique=True)),
                ("expires_at", models.DateTimeField()),
                ("used_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="link_codes",
                        to="users_app.appuser",
                    ),
                ),
            ],
        ),
        # Nullable while both exist, so the reverse migration can refill it.
        migrations.AlterField(
            model_name="appuser",
            name="access_token_digest",
            field=models.CharField(editable=False, max_length=64, null=True, unique=True),
        ),
        migrations.RunPython(copy_access_tokens, restore_access_tokens),
        migrations.RemoveField(model_name="appuser", name="access_token_digest"),
    ]
