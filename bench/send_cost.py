"""The CPU cost of one accepted send, in process (no HTTP): `python -m bench.send_cost [N]`.

Needs DATABASE_URL (PostgreSQL, migrated) and REDIS_URL. Sends N messages through Django's test
client to a verified channel (no quota write) for a recipient without devices, and prints the
mean and median wall time per send; run it twice and compare, e.g. before and after a change.
"""

import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilopush.settings")

import django  # noqa: E402

django.setup()

from django.test import Client  # noqa: E402

from channels_app.models import Channel  # noqa: E402
from channels_app.services import channel_create  # noqa: E402
from messaging.models import Message  # noqa: E402
from users_app.services import app_user_create  # noqa: E402


def main(n):
    owner, _ = app_user_create(platform="web", push_token="")
    recipient, _ = app_user_create(platform="web", push_token="")
    channel = channel_create(owner=owner, name="bench send cost")
    Channel.objects.filter(pk=channel.pk).update(is_verified=True)
    body = {"to": recipient.token, "token": channel.token, "secret": channel.secret, "message": "x"}
    client = Client(HTTP_HOST="127.0.0.1")
    times = []
    try:
        for i in range(n + 200):
            started = time.perf_counter()
            response = client.post("/v1/messages/send", body, content_type="application/json")
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.content
            if i >= 200:  # warm-up
                times.append(elapsed)
    finally:
        Message.objects.filter(channel=channel).delete()
        channel.delete()
        owner.delete()
        recipient.delete()
    print(f"{n} sends: mean {statistics.mean(times) * 1e6:.0f} us, median {statistics.median(times) * 1e6:.0f} us, "
          f"p99 {sorted(times)[int(n * 0.99)] * 1e6:.0f} us")




def metrics_only(n=100_000):
    """What the send path adds for metrics: send_answered (a counter and a histogram) and message_accepted."""
    from kilopush import metrics

    started = time.perf_counter()
    for _ in range(n):
        metrics.send_answered(200, 0.012)
        metrics.message_accepted(False)
    print(f"metrics per send: {(time.perf_counter() - started) / n * 1e6:.1f} us (mean of {n})")


if __name__ == "__main__":
    metrics_only()
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
