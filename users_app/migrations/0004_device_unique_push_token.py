import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    # Apart from 0003: PostgreSQL builds no index on a table with deletions whose deferred checks are pending.

    dependencies = [
        ("users_app", "0003_device_web_push_label"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='device',
            constraint=models.UniqueConstraint(django.db.models.functions.text.MD5('push_token'), condition=models.Q(('push_token', ''), _negated=True), name='unique_device_push_token'),
        ),
    ]
