# Sender control (issue 14): idempotency keys, ttl, replace, soft removal (status survives), withdraw deliveries.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('channels_app', '0002_initial'),
        ('messaging', '0001_initial'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='delivery',
            name='unique_delivery',
        ),
        migrations.AddField(
            model_name='delivery',
            name='kind',
            field=models.CharField(choices=[('push', 'push'), ('withdraw', 'withdraw')], db_default='push', default='push', max_length=8),
        ),
        migrations.AddField(
            model_name='message',
            name='collapse_id',
            field=models.CharField(blank=True, db_default='', default='', max_length=32),
        ),
        migrations.AddField(
            model_name='message',
            name='expires_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='message',
            name='idempotency_key',
            field=models.CharField(blank=True, max_length=255, null=True),
        ),
        migrations.AddField(
            model_name='message',
            name='removed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='message',
            name='removed_reason',
            field=models.CharField(blank=True, choices=[('withdrawn', 'withdrawn by the sender'), ('expired', 'expired (ttl)'), ('replaced', 'replaced by a newer message'), ('deleted', 'deleted by the recipient')], db_default='', default='', max_length=16),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='state',
            field=models.CharField(choices=[('queued', 'queued'), ('sending', 'sending'), ('accepted', 'accepted'), ('invalid_token', 'invalid token'), ('rejected', 'rejected'), ('expired', 'expired'), ('cancelled', 'cancelled')], default='queued', max_length=16),
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(condition=models.Q(('expires_at__isnull', False), ('removed_at__isnull', True)), fields=['expires_at'], name='message_expiry'),
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(condition=models.Q(('removed_at__isnull', False)), fields=['removed_at'], name='message_removed'),
        ),
        migrations.AddConstraint(
            model_name='delivery',
            constraint=models.UniqueConstraint(fields=('message', 'device', 'kind'), name='unique_delivery_kind'),
        ),
        migrations.AddConstraint(
            model_name='message',
            constraint=models.UniqueConstraint(condition=models.Q(('idempotency_key__isnull', False)), fields=('channel', 'idempotency_key'), name='unique_idempotency_key'),
        ),
    ]
