"""Pushes per second per worker core: the FCM clients side by side against the FCM stand-in.

    .venv/bin/python -m bench.push_clients [PUSHES] [--latency SECONDS]

The stand-in (tests/fakes/fcm.py) runs in its own process, so only the client's CPU is counted:
each client sends PUSHES pushes (3,000) in batches of DELIVERY_BATCH_SIZE (100), as one worker
process does, and the process's CPU time (all its threads) gives pushes per CPU-second, which
is pushes per second per worker core. Three clients, in one run:

- `requests thread pool`: the provider before issue 17, one thread and one kept-alive requests
  session per concurrent push (FCM_CONCURRENCY threads);
- `aiohttp kept-alive`: the provider now (messaging/providers/fcm.py), every push on one event loop over kept-alive
  connections (at most FCM_CONCURRENCY);
- `pyfcm async_notify_multiple_devices`: pyfcm's own async path, a new aiohttp session (and
  connection) per push and a new event loop per batch.

Each keeps pyfcm's payload building (`parse_payload`). Prints a table and writes JSON to
bench/results/push-clients-<time>.json.
"""

import argparse
import json
import os
import re
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
    "aiohttp kept-alive (now)": FCMProvider,
    "pyfcm async_notify_multiple_devices": PyfcmAsync,
}


def pushes(count):
    return [Push(delivery_id=i, token=f"fcm-bench-{i % 200}", title="Bench", body=f"Door bell #{i}",
                 data={"message_id": str(i), "channel_token": "c" * 30}, collapse_id=str(i))
            for i in range(count)]


def measure(client_class, settings, count):
    provider = client_class(credentials_file=settings["FCM_CREDENTIALS"], endpoint=settings["FCM_ENDPOINT"],
                            concurrency=CONCURRENCY)
    try:
        provider.send(pushes(BATCH))  # warm-up: the OAuth token, connections, threads
        batches = [pushes(count)[i:i + BATCH] for i in range(0, count, BATCH)]
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


def start_fake(latency, work_dir):
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.fcm", "--port", "0", "--latency", str(latency),
                             "--credentials", str(work_dir / "fcm.json")],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    settings = {}
    while len(settings) < 2:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the FCM stand-in did not start")
        match = re.match(r"^([A-Z_]+)=(.*)$", line.strip())
        if match:
            settings[match.group(1)] = match.group(2)
    return proc, settings


def run(count=3000, latencies=(0.0, 0.05)):
    report = {"taken_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "load_average": os.getloadavg(),
              "batch": BATCH, "concurrency": CONCURRENCY, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for latency in latencies:
            fake, settings = start_fake(latency, Path(tmp))
            try:
                for label, client_class in CLIENTS.items():
                    figures = measure(client_class, settings, count)
                    report["runs"].append({"client": label, "stand_in_latency_ms": int(latency * 1000), **figures})
            finally:
                fake.terminate()
                fake.wait()
    report["load_average_at_end"] = os.getloadavg()
    return report


def print_table(report):
    print(f"FCM clients, {report['runs'][0]['pushes']} pushes in batches of {report['batch']}, "
          f"at most {report['concurrency']} in flight (load average {report['load_average'][0]:.1f})")
    print(f"  {'client':<38} {'stand-in':>9} {'pushes/CPU-s':>13} {'CPU/push':>10} {'pushes/s':>9}  outcomes")
    for r in report["runs"]:
        print(f"  {r['client']:<38} {r['stand_in_latency_ms']:>6} ms {r['pushes_per_cpu_second']:>13} "
              f"{r['cpu_us_per_push']:>7} µs {r['pushes_per_second']:>9}  {r['outcomes']}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pushes", nargs="?", type=int, default=3000)
    parser.add_argument("--latency", type=float, action="append", help="the stand-in's answer delay (repeatable)")
    args = parser.parse_args(argv)
    report = run(args.pushes, tuple(args.latency or (0.0, 0.05)))
    print_table(report)
    out = ROOT / "bench" / "results" / f"push-clients-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"written to {out.relative_to(ROOT)}")
    return report


if __name__ == "__main__":
    main()
