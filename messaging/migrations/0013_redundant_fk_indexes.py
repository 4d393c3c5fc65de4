"""Two indexes a composite index already serves, dropped: each send wrote them for nothing (issue 27).

messaging_message.recipient_id is the first column of (recipient_id, id DESC), and messaging_delivery.message_id
of unique_delivery_kind (message_id, device_id, kind). Only the index is dropped: Django's own AlterField would
also drop and re-add the foreign key, which checks every row of the table again under a lock.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('messaging', '0012_scheduled_message'),
        ('users_app', '0007_accesstoken_label_last_used_at'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='delivery',
                    name='message',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name='deliveries', to='messaging.message'),
                ),
                migrations.AlterField(
                    model_name='message',
                    name='recipient',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name='messages', to='users_app.appuser'),
                ),
            ],
            database_operations=[
                migrations.RunSQL('DROP INDEX IF EXISTS "messaging_delivery_message_id_e5d46cf3"',
                                  'CREATE INDEX "messaging_delivery_message_id_e5d46cf3" '
                                  'ON "messaging_delivery" ("message_id")'),
                migrations.RunSQL('DROP INDEX IF EXISTS "messaging_message_recipient_id_6eb91564"',
                                  'CREATE INDEX "messaging_message_recipient_id_6eb91564" '
                                  'ON "messaging_message" ("recipient_id")'),
            ],
        ),
    ]
