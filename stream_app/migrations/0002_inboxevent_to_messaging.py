# InboxEvent now belongs to messaging (messaging 0011 takes over the same table): only Django's state
# forgets it here; the table stays.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("stream_app", "0001_initial"),
        ("messaging", "0011_inboxevent"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="InboxEvent")],
            database_operations=[],
        ),
    ]
