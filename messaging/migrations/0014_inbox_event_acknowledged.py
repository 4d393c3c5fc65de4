"""InboxEvent.kind takes "acknowledged": an emergency acknowledged on one device reaches the account's other streams.

Widening a varchar is a catalog change on PostgreSQL: no rewrite, no scan.
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
    ]
