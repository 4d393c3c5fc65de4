# InboxEvent moves from stream_app to messaging (issue 26: messaging records inbox events, the stream
# only transports them). The table keeps its name; only Django's state moves, the database is untouched.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("messaging", "0010_message_actions"),
        ("stream_app", "0001_initial"),
        ("users_app", "0002_moderators_group"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="InboxEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("kind", models.CharField(choices=[("read", "read"), ("deleted", "deleted")], max_length=8)),
                        ("data", models.TextField()),
                        ("created_at", models.DateTimeField(db_index=True)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="users_app.appuser"
                            ),
                        ),
                    ],
                    options={"db_table": "stream_app_inboxevent"},
                ),
            ],
            database_operations=[],
        ),
    ]
