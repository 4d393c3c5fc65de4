"""Delivery.kind takes "dismiss": after an acknowledgement, each device that showed the message removes its notification.

Only the field's choices change: nothing in the database.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("messaging", "0014_inbox_event_acknowledged"),
    ]

    operations = [
        migrations.AlterField(
            model_name="delivery",
            name="kind",
            field=models.CharField(
                choices=[("push", "push"), ("withdraw", "withdraw"), ("repeat", "repeat"), ("dismiss", "dismiss")],
                db_default="push", default="push", max_length=8,
            ),
        ),
    ]
