"""Flame graphs (pyinstrument) of the send path, the bare view and one worker batch, in-process.

Run by bench.run (phase "accept" and "delivery") with the bench's environment:
    python -m bench.profile OUT_PREFIX FIXTURES_JSON
writes OUT_PREFIX-send.html, -bare.html, -worker-batch.html and prints a JSON summary.
`python -m bench.profile --send-sql FIXTURES_JSON` prints only the SQL one send runs (send_sql), as JSON.
"""

import json
import os
import sys
import time

import django
import psycopg

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from pyinstrument import Profiler  # noqa: E402

from messaging import queueing  # noqa: E402


REPEAT = int(os.getenv("BENCH_PROFILE_REPEAT", "1000"))


def profile(out, name, fn, repeat):
    fn()  # warm-up (connections, imports, caches)
    profiler = Profiler(interval=0.0002)
    # CPU time, not wall time: on a shared machine the wall clock mostly measures the neighbours.
    started, cpu_started = time.perf_counter(), time.process_time()
    profiler.start()
    for _ in range(repeat):
        fn()
    profiler.stop()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    path = f"{out}-{name}.html"
    with open(path, "w") as f:
        f.write(profiler.output_html())
    with open(f"{out}-{name}.txt", "w") as f:
        f.write(profiler.output_text(show_all=False))
    return {"profile": path, "per_call_ms": round(elapsed / repeat * 1000, 3),
            "cpu_per_call_ms": round(cpu / repeat * 1000, 3)}


def send_sql(client, fixtures):
    """The SQL one send runs, with its values in place: the pgbench ceiling replays it."""
    statements = []

    def capture(execute, sql, params, many, context):
        statements.append(psycopg.ClientCursor(connection.connection).mogrify(sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        client.post("/v1/messages/send", json.dumps({"to": fixtures["recipients"][0], **fixtures["verified"],
                                                     "message": "Bench: door bell"}), content_type="application/json")
    return statements


def main():
    if sys.argv[1] == "--send-sql":
        print(json.dumps(send_sql(Client(HTTP_HOST="127.0.0.1", REMOTE_ADDR="127.0.0.1"), json.loads(sys.argv[2]))))
        return
    out, fixtures = sys.argv[1], json.loads(sys.argv[2])
    client = Client(HTTP_HOST="127.0.0.1", REMOTE_ADDR="127.0.0.1")
    body = json.dumps({"to": fixtures["quiet"], **fixtures["verified"], "message": "Profile: door bell"})

    def send():
        response = client.post("/v1/messages/send", body, content_type="application/json")
        assert response.status_code == 200, response.content

    def bare():
        client.post("/bench/bare", body, content_type="application/json")

    summary = {"send_sql": send_sql(client, fixtures)}
    summary["send"] = profile(out, "send", send, REPEAT)
    summary["bare"] = profile(out, "bare", bare, REPEAT)
    # One worker batch: DELIVERY_BATCH_SIZE deliveries to the FCM/APNs stand-ins.
    batch = [json.dumps({"to": to, **fixtures["verified"], "message": f"Profile batch #{i}"})
             for i, to in enumerate(fixtures["recipients"][:100])]
    for payload in batch:
        client.post("/v1/messages/send", payload, content_type="application/json")
    profiler = Profiler(interval=0.0002)
    started, cpu_started = time.perf_counter(), time.process_time()
    profiler.start()
    changes = queueing.deliver_batch(None)
    profiler.stop()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    path = f"{out}-worker-batch.html"
    with open(path, "w") as f:
        f.write(profiler.output_html())
    with open(f"{out}-worker-batch.txt", "w") as f:
        f.write(profiler.output_text(show_all=False))
    summary["worker_batch"] = {"profile": path, "deliveries": len(changes or {}), "ms": round(elapsed * 1000, 1),
                               "cpu_ms": round(cpu * 1000, 1)}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
