"""Sessions (issue 23): each access token gets a label (from the User-Agent or the platform) and a last use."""


from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('users_app', '0006_accesstoken_linkcode'),
    ]

    operations = [
        migrations.AddField(
            model_name='accesstoken',
            name='label',
            field=models.CharField(blank=True, db_default='', default='', max_length=64),
        ),
        migrations.AddField(
            model_name='accesstoken',
            name='last_used_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
