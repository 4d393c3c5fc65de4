"""An index unique_channel_day (channel_id, day) already serves, dropped: each counted send wrote it for nothing
(issue 27). Only the index: Django's own AlterField would also drop and re-check the foreign key."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('channels_app', '0004_webhooks'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='channeldailycount',
                    name='channel',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name='daily_counts', to='channels_app.channel'),
                ),
            ],
            database_operations=[
                migrations.RunSQL('DROP INDEX IF EXISTS "channels_app_channeldailycount_channel_id_5050f2e8"',
                                  'CREATE INDEX "channels_app_channeldailycount_channel_id_5050f2e8" '
                                  'ON "channels_app_channeldailycount" ("channel_id")'),
            ],
        ),
    ]
