"""An acknowledgement reaches the account's other devices: InboxEvent.kind takes "acknowledged" (their streams),
Delivery.kind takes "dismiss" (a push telling each device that showed the message to remove its notification).

Widening a varchar is a catalog change on PostgreSQL (no rewrite, no scan); new choices change nothing stored.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("messaging", "0013_redundant_fk_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="inboxevent",
            name="kind",
            field=models.CharField(
                choices=[("read", "read"), ("deleted", "deleted"), ("acknowledged", "acknowledged")], max_length=16
            ),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="kind",
            field=models.CharField(
                choices=[("push", "push"), ("withdraw", "withdraw"), ("repeat", "repeat"), ("dismiss", "dismiss")],
                db_default="push", default="push", max_length=8,
            ),
        ),
    ]
