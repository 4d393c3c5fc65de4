"""make bench, phase `webhooks` (issue 27, target 4): webhook events posted per second and per worker CPU-second.

One channel whose webhook is a local receiver (plain HTTP/1.1 with keep-alive, allow-listed by
WEBHOOK_ALLOW_HOSTS, answering 200 at once), N events recorded at once, then messaging.webhooks.deliver_due
called in this process, as the worker's task calls it, until none is left. The worker's cost is this
process's CPU time (the receiver runs in a process of its own); the target: >= 1,000 events per CPU-second.

    python -m bench.webhooks COUNT PORT    (bench.run starts it with the bench's environment)
"""

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a client that reuses its connection may

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.received += 1
            self.server.connections.add(self.client_address)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def serve(port):
    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    server.daemon_threads = True
    server.received, server.connections, server.lock = 0, set(), threading.Lock()
    return server


def receiver_main(port):
    """The receiver, in a process of its own: prints its counts on each line read from stdin."""
    server = serve(port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    for _ in sys.stdin:
        print(json.dumps({"received": server.received, "connections": len(server.connections)}), flush=True)


def main(count, port):
    import subprocess

    import django

    django.setup()
    from django.conf import settings
    from django.utils import timezone

    from channels_app.services import channel_create, channel_set_webhook
    from messaging import webhooks
    from messaging.models import WebhookEvent
    from users_app.services import app_user_create

    assert "127.0.0.1" in settings.WEBHOOK_ALLOW_HOSTS, "run with WEBHOOK_ALLOW_HOSTS=127.0.0.1"
    receiver = subprocess.Popen([sys.executable, "-m", "bench.webhooks", "--receiver", str(port)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout.readline().strip() == "ready"
        owner, _ = app_user_create(push_token="")
        channel = channel_create(owner=owner, name="Bench webhooks")
        channel_set_webhook(channel=channel, url=f"http://127.0.0.1:{port}/hook")
        WebhookEvent.objects.all().delete()
        recorded = webhooks.event_record(channel_ids=[channel.pk] * count, type=webhooks.ACTION_PRESSED,
                                         message_ids=list(range(1, count + 1)), data={"action": "bench"})
        started, cpu_started = time.perf_counter(), time.process_time()
        calls = 0
        while WebhookEvent.objects.filter(state=WebhookEvent.QUEUED).exists():
            webhooks.deliver_due()
            calls += 1
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        receiver.stdin.write("\n")
        receiver.stdin.flush()
        counts = json.loads(receiver.stdout.readline())
        delivered = WebhookEvent.objects.filter(state=WebhookEvent.DELIVERED).count()
    finally:
        receiver.kill()
        receiver.wait()
    result = {
        "events": recorded, "delivered": delivered, "received": counts["received"],
        "receiver_connections": counts["connections"], "deliver_due_calls": calls,
        "seconds": round(elapsed, 2), "events_per_second": round(delivered / elapsed, 1),
        "worker_cpu_seconds": round(cpu, 2), "events_per_worker_cpu_second": round(delivered / cpu, 1) if cpu else None,
        "load_average": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))


def run(*, env, python, root, free_port, quick=False, count=None, repeat=3):
    """bench.run's phase: `repeat` runs of COUNT events; returns each run and the median's figures."""
    import subprocess

    count = count or (1000 if quick else 5000)
    env = {**env, "WEBHOOK_ALLOW_HOSTS": "127.0.0.1"}
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=root, check=True)
    runs = []
    for _ in range(repeat):
        done = subprocess.run([python, "-m", "bench.webhooks", str(count), str(free_port())], env=env, cwd=root,
                              capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"bench.webhooks failed:\n{done.stderr[-3000:]}")
        out = done.stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
        print(f"webhooks: {runs[-1]}")
    rates = sorted(r["events_per_worker_cpu_second"] or 0 for r in runs)
    middle = sorted(runs, key=lambda r: r["events_per_worker_cpu_second"] or 0)[len(runs) // 2]
    return {**middle, "runs": runs, "events_per_worker_cpu_second_range": [rates[0], rates[-1]],
            "meets_target": middle["events_per_worker_cpu_second"] is not None
            and middle["events_per_worker_cpu_second"] >= 1000}


if __name__ == "__main__":
    if sys.argv[1] == "--receiver":
        receiver_main(int(sys.argv[2]))
    else:
        main(int(sys.argv[1]), int(sys.argv[2]))
