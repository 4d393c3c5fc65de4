"""Time per retention batch on 100,000 old rows: `python -m bench.retention [ROWS] [BATCH]`.

Needs DATABASE_URL (PostgreSQL, migrated; a scratch database: it adds and deletes rows) and REDIS_URL.
Inserts ROWS messages 100 days old, each with one accepted delivery, plus fresh traffic that must stay,
then runs messaging.retention.purge() with BATCH rows per DELETE (RETENTION_BATCH_SIZE) and prints the
time of each kind of batch. Each batch is one short transaction: that time is the longest a row it holds
stays locked; the send path inserts new rows and takes none of those locks.
"""

import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilopush.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from channels_app.services import channel_create  # noqa: E402
from messaging import retention  # noqa: E402
from messaging.models import Delivery, Message  # noqa: E402
from users_app.models import Device  # noqa: E402
from users_app.services import app_user_create  # noqa: E402


def main(rows, batch):
    owner, _ = app_user_create(platform="web", push_token="")
    recipient, _ = app_user_create(platform="android", push_token="bench-retention")
    channel = channel_create(owner=owner, name="bench retention")
    device = Device.objects.get(user=recipient)
    with connection.cursor() as cursor:
        cursor.execute(f"""
            WITH m AS (
                INSERT INTO {Message._meta.db_table} (recipient_id, channel_id, text, url, important, had_devices,
                                                       created_at)
                SELECT %(user)s, %(channel)s, 'old ' || i, '', NULL, true, now() - interval '100 days'
                FROM generate_series(1, %(rows)s) i RETURNING id
            )
            INSERT INTO {Delivery._meta.db_table} (message_id, device_id, state, attempts, provider_message_id,
                                                   last_error, created_at, updated_at)
            SELECT id, %(device)s, 'accepted', 1, '', '', now() - interval '100 days', now() - interval '100 days'
            FROM m
        """, {"user": recipient.pk, "channel": channel.pk, "rows": rows, "device": device.pk})
        cursor.execute(f"ANALYZE {Message._meta.db_table}; ANALYZE {Delivery._meta.db_table}")
    from django.utils import timezone

    timings = {}
    try:
        for kind in ("purge_deliveries", "purge_messages"):
            batches = []
            started = time.perf_counter()
            deleted = getattr(retention, kind)(now=timezone.now(), batch_size=batch, timings=batches)
            timings[kind] = (deleted, time.perf_counter() - started, batches)
    finally:
        Message.objects.filter(channel=channel).delete()
        channel.delete()
        owner.delete()
        recipient.delete()
    for kind, (deleted, total, batches) in timings.items():
        print(f"{kind}: {deleted} rows in {len(batches)} batches of {batch}, {total:.2f}s; per batch mean "
              f"{statistics.mean(batches) * 1000:.0f} ms, max {max(batches) * 1000:.0f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
