from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("messaging", "0005_vapid_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="priority",
            field=models.SmallIntegerField(db_default=0, default=0),
        ),
    ]
