"""What PostgreSQL costs per send when sends commit N at a time: `python -m bench.experiments.pgbench_batched`.

The group commit experiment (docs/benchmarks.md, Round three). Captures the SQL of one send through Django's
test client against the bench database (run `make bench BENCH_ARGS="--only accept --web plain --repeat 1
--no-profile"` once first), then replays it with `pgbench -M prepared` at RATE sends a second (default 1,400,
about the send's rate through the web) as transactions of 1, 2, 4 and 8 sends, and prints the machine's CPU
per send less pgbench's own (PostgreSQL's), three rounds. Usage: [RATE] [SECONDS].
"""

import json
import os
import sys
from pathlib import Path

from bench import run as bench

SHAPES = ((1, 16), (1, 4), (2, 8), (4, 4), (8, 2))  # (sends per transaction, pgbench clients)


def send_sql(env):
    """The statement of one send to the bench's first recipient, with its values in place."""
    code = """
import json, sys, django
django.setup()
import psycopg
from django.db import connection
from django.test import Client
fixtures = json.loads(sys.argv[1])
statements = []
def capture(execute, sql, params, many, context):
    statements.append(psycopg.ClientCursor(connection.connection).mogrify(sql, params))
    return execute(sql, params, many, context)
with connection.execute_wrapper(capture):
    response = Client(HTTP_HOST="127.0.0.1").post("/v1/messages/send", json.dumps(
        {"to": fixtures["recipients"][0], **fixtures["verified"], "message": "Bench: door bell"}),
        content_type="application/json")
assert response.status_code == 200 and len(statements) == 1, (response.content, statements)
print(json.dumps(" ".join(statements[0].split())))
"""
    fixtures = (bench.ROOT / "var" / "bench" / "fixtures.json").read_text()
    out = bench.subprocess.run([bench.PYTHON, "-c", code, fixtures], env=env, cwd=bench.ROOT, check=True,
                               capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    rate = int(sys.argv[1]) if len(sys.argv) > 1 else 1400
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    env, work_dir = bench._migrated_bench_env()[:2]
    statement = send_sql(env)
    for round_ in range(3):
        for per_transaction, clients in SHAPES:
            body = [statement] * per_transaction
            if per_transaction > 1:
                body = ["BEGIN", *body, "COMMIT"]
            measured = bench.pgbench(env["DATABASE_URL"], body, seconds, clients, Path(work_dir), "prepared",
                                     rate=rate / per_transaction)
            sends = measured["tps"] * per_transaction
            print(f"round {round_ + 1}: {per_transaction} per transaction, {clients} clients: {sends:.0f} sends/s, "
                  f"PostgreSQL {measured['cpu_ms_per_send_less_pgbench'] / per_transaction:.3f} ms CPU per send",
                  flush=True)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilopush.settings")
    main()
