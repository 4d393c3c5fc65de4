"""Pushes per second per worker core: each provider's client against its stand-in, FCM's side by side.

    .venv/bin/python -m bench.push_clients [PUSHES] [--latency SECONDS] [--provider fcm|apns|webpush]

Each stand-in (tests/fakes/) runs in its own process, so only the client's CPU is counted: a
client sends PUSHES pushes (3,000) in batches of DELIVERY_BATCH_SIZE (100), as one worker process
does, and the process's CPU time (all its threads) gives pushes per CPU-second, which is pushes
per second per worker core. FCM with three clients, in one run:

- `requests thread pool`: the provider before issue 17, one thread and one kept-alive requests
  session per concurrent push (FCM_CONCURRENCY threads);
- `aiohttp kept-alive`: issue 17's first change, every push on one event loop over kept-alive
  aiohttp connections (at most FCM_CONCURRENCY);
- `HTTP/1.1 kept-alive, providers/http1`: the provider now (messaging/providers/fcm.py), the same
  event loop and connections through the small client of messaging/providers/http1.py;
- `pyfcm async_notify_multiple_devices`: pyfcm's own async path, a new aiohttp session (and
  connection) per push and a new event loop per batch.

Each keeps pyfcm's payload building (`parse_payload`). APNs (aioapns over HTTP/2, TLS) and Web
Push (pywebpush: aes128gcm encryption and a VAPID JWT per origin, over TLS) with the providers
as they are. Prints a table and writes JSON to bench/results/push-clients-<time>.json.
"""

import argparse
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from messaging.providers.base import Push, Result, ThreadPoolProvider
from messaging.providers.fcm import CONNECT_TIMEOUT, FCMClient, FCMProvider, message_fields, result_from_response

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilopush.settings")
os.environ.setdefault("KILOPUSH_VAR_DIR", tempfile.mkdtemp(prefix="bench-push-clients-"))

import django  # noqa: E402

django.setup()

ROOT = Path(__file__).resolve().parent.parent
BATCH = 100
CONCURRENCY = 100  # FCM_CONCURRENCY: a whole batch (DELIVERY_BATCH_SIZE) at once


class RequestsThreadPoolFCM(ThreadPoolProvider):
    """The FCM provider before issue 17, for comparison: a thread per concurrent push, each with its own
    kept-alive requests session (pyfcm's thread-local session, through an adapter without retries)."""

    name = label = "fcm"

    def __init__(self, *, credentials_file, endpoint, timeout=10.0, concurrency=CONCURRENCY):
        self.client = FCMClient(credentials_file=credentials_file, endpoint=endpoint, timeout=timeout)
        self.client.custom_adapter = HTTPAdapter(
            pool_connections=2, pool_maxsize=concurrency,
            max_retries=Retry(total=0, read=False, redirect=False, respect_retry_after_header=False))
        self.timeout = timeout
        self.executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="fcm")

    def _send_one(self, push):
        payload = self.client.parse_payload(**message_fields(push))
        response = self.client.requests_session.post(self.client.fcm_end_point, data=payload,
                                                     timeout=(CONNECT_TIMEOUT, self.timeout))
        return result_from_response(response.status_code, response.content, response.headers)

    def close(self):
        self.executor.shutdown(wait=False, cancel_futures=True)


class AiohttpFCM(FCMProvider):
    """The FCM provider of issue 17's first change, for comparison: the same event loop and batch, through
    an aiohttp ClientSession (kept-alive TCPConnector) instead of providers/http1.py."""

    async def _post(self, payload, token):
        import aiohttp

        if self._pool is None:
            self._pool = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.concurrency, keepalive_timeout=60),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT, sock_read=self.timeout),
                skip_auto_headers=("User-Agent",))
        headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
        async with self._pool.post(self.client.fcm_end_point, data=payload, headers=headers) as response:
            return response.status, await response.read(), response.headers

    def close(self):
        async def _close():
            if self._pool is not None:
                await self._pool.close()

        try:
            self._loop.run(_close(), timeout=2)
        finally:
            self._loop.stop()


class PyfcmAsync:
    """pyfcm's own async path: `async_notify_multiple_devices` (one aiohttp session per push)."""

    def __init__(self, *, credentials_file, endpoint, timeout=10.0, concurrency=CONCURRENCY):
        self.client = FCMClient(credentials_file=credentials_file, endpoint=endpoint, timeout=timeout)
        self.timeout = timeout

    def send(self, pushes):
        answers = self.client.async_notify_multiple_devices([message_fields(p) for p in pushes], timeout=self.timeout)
        return [Result.accepted(a.get("name", "")) if isinstance(a, dict) and "name" in a else Result.retry(str(a))
                for a in answers]

    def close(self):
        pass


CLIENTS = {
    "requests thread pool (before)": RequestsThreadPoolFCM,
    "aiohttp kept-alive (issue 17, first)": AiohttpFCM,
    "HTTP/1.1 kept-alive, providers/http1 (now)": FCMProvider,
    "pyfcm async_notify_multiple_devices": PyfcmAsync,
}


def pushes(count):
    return [Push(delivery_id=i, token=f"fcm-bench-{i % 200}", title="Bench", body=f"Door bell #{i}",
                 data={"message_id": str(i), "channel_token": "c" * 30}, collapse_id=str(i))
            for i in range(count)]


def measure(make_provider, make_pushes, count):
    """PUSHES pushes in batches, as one worker process sends them: CPU (all threads) and wall time."""
    provider = make_provider()
    try:
        provider.send(make_pushes(BATCH))  # warm-up: tokens, connections, threads
        every = make_pushes(count)
        batches = [every[i:i + BATCH] for i in range(0, count, BATCH)]
        cpu, wall = time.process_time(), time.perf_counter()
        outcomes = {}
        for batch in batches:
            for result in provider.send(batch):
                outcomes[result.outcome.value] = outcomes.get(result.outcome.value, 0) + 1
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        provider.close()
    return {"pushes": count, "outcomes": outcomes, "cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
            "pushes_per_cpu_second": round(count / cpu, 1), "pushes_per_second": round(count / wall, 1),
            "cpu_us_per_push": round(cpu / count * 1e6, 1)}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def stand_in(module, args, wanted, port=None):
    """A stand-in of tests/fakes in its own process, for the block; yields the settings it prints (NAME=value)."""
    proc = subprocess.Popen([sys.executable, "-m", module, *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    settings = {}
    while not wanted <= set(settings):
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"{module} did not start")
        match = re.match(r"^([A-Z_]+)=(.*)$", line.strip())
        if match:
            settings[match.group(1)] = match.group(2)
    deadline = time.monotonic() + 10
    while port and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield settings
    finally:
        proc.terminate()
        proc.wait()


def fcm_runs(count, latency, work_dir):
    with stand_in("tests.fakes.fcm", ["--port", 0, "--latency", latency, "--credentials", work_dir / "fcm.json"],
                  {"FCM_CREDENTIALS", "FCM_ENDPOINT"}) as settings:
        for label, client_class in CLIENTS.items():
            def make(client_class=client_class):
                return client_class(credentials_file=settings["FCM_CREDENTIALS"], endpoint=settings["FCM_ENDPOINT"],
                                    concurrency=CONCURRENCY)
            yield label, measure(make, pushes, count)


def apns_runs(count, latency, work_dir):
    from messaging.providers.apns import APNsProvider

    def make():
        return APNsProvider(key_file=s["APNS_KEY"], key_id=s["APNS_KEY_ID"], team_id=s["APNS_TEAM_ID"],
                            topic=s["APNS_TOPIC"], endpoint=s["APNS_ENDPOINT"], sandbox_endpoint=s["APNS_ENDPOINT"],
                            ca_file=s["APNS_CA_FILE"], max_connections=4)

    def apns_pushes(n):
        return [Push(delivery_id=i, token="%064x" % (i % 200 + 1), title="Bench", body=f"Door bell #{i}",
                     data={"message_id": str(i), "channel_token": "c" * 30}, badge=1, collapse_id=str(i))
                for i in range(n)]

    port = free_port()
    with stand_in("tests.fakes.apns", ["--port", port, "--control-port", free_port(), "--out", work_dir,
                                       "--latency", latency],
                  {"APNS_KEY", "APNS_KEY_ID", "APNS_TEAM_ID", "APNS_TOPIC", "APNS_ENDPOINT", "APNS_CA_FILE"}, port) as s:
        yield "aioapns, HTTP/2 (now)", measure(make, apns_pushes, count)


def webpush_runs(count, latency, work_dir):
    import base64
    import urllib.request

    from messaging import vapid
    from messaging.providers.webpush import WebPushProvider

    pem = vapid.generate_pem()
    key = base64.urlsafe_b64encode(vapid.public_key_point(vapid.load_pem(pem))).rstrip(b"=").decode()
    port, control = free_port(), free_port()
    with stand_in("tests.fakes.webpush", ["--port", port, "--control-port", control, "--out", work_dir,
                                          "--latency", latency], {"WEBPUSH_CA_FILE"}, port) as s:
        subscriptions = []
        for _ in range(50):
            request = urllib.request.Request(f"http://127.0.0.1:{control}/_fake/subscriptions", method="POST",
                                             data=json.dumps({"applicationServerKey": key}).encode(),
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as answer:
                subscriptions.append(json.loads(answer.read()))

        def make():
            return WebPushProvider(private_key=vapid.load_pem(pem), subject="mailto:bench@localhost", ttl=3600,
                                   concurrency=32, ca_file=s["WEBPUSH_CA_FILE"], endpoint_hosts=[f"127.0.0.1:{port}"])

        def web_pushes(n):
            return [Push(delivery_id=i, token=subscriptions[i % 50]["endpoint"], title="Bench", body=f"Door bell #{i}",
                         data={"message_id": str(i), "channel_token": "c" * 30}, badge=1, collapse_id=str(i),
                         web_keys=subscriptions[i % 50]["keys"], created_at="2026-11-28T10:00:00Z")
                    for i in range(n)]

        yield "pywebpush, requests thread pool (now)", measure(make, web_pushes, count)


PROVIDERS = {"fcm": fcm_runs, "apns": apns_runs, "webpush": webpush_runs}


def run(count=3000, latencies=(0.0, 0.05), providers=tuple(PROVIDERS)):
    report = {"taken_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "load_average": os.getloadavg(),
              "batch": BATCH, "concurrency": CONCURRENCY, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for latency in latencies:
            for provider in providers:
                for label, figures in PROVIDERS[provider](count, latency, Path(tmp)):
                    report["runs"].append({"provider": provider, "client": label,
                                           "stand_in_latency_ms": int(latency * 1000), **figures})
    report["load_average_at_end"] = os.getloadavg()
    return report


def print_table(report):
    print(f"Push clients, {report['runs'][0]['pushes']} pushes in batches of {report['batch']} "
          f"(load average {report['load_average'][0]:.1f})")
    print(f"  {'provider':<8} {'client':<38} {'stand-in':>9} {'pushes/CPU-s':>13} {'CPU/push':>10} {'pushes/s':>9}  outcomes")
    for r in report["runs"]:
        print(f"  {r['provider']:<8} {r['client']:<38} {r['stand_in_latency_ms']:>6} ms {r['pushes_per_cpu_second']:>13} "
              f"{r['cpu_us_per_push']:>7} µs {r['pushes_per_second']:>9}  {r['outcomes']}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pushes", nargs="?", type=int, default=3000)
    parser.add_argument("--latency", type=float, action="append", help="the stand-in's answer delay (repeatable)")
    parser.add_argument("--provider", choices=list(PROVIDERS), action="append", help="default: all three")
    args = parser.parse_args(argv)
    report = run(args.pushes, tuple(args.latency or (0.0, 0.05)), tuple(args.provider or PROVIDERS))
    print_table(report)
    out = ROOT / "bench" / "results" / f"push-clients-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"written to {out.relative_to(ROOT)}")
    return report


if __name__ == "__main__":
    main()
