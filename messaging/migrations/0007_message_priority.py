from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("messaging", "0006_message_format_attachment"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="priority",
            field=models.SmallIntegerField(db_default=0, default=0),
        ),
    ]
