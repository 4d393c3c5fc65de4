"""What PostgreSQL costs per send when sends commit N at a time: `python -m bench.experiments.pgbench_batched`.

The group commit experiment (docs/benchmarks.md, Round three). Captures the SQL of one send through Django's
test client against the bench database (run `make bench BENCH_ARGS="--only accept --web plain --repeat 1
--no-profile"` once first), then replays it with `pgbench -M prepared` at RATE sends a second (default 1,400,
about the send's rate through the web) as transactions of 1, 2, 4 and 8 sends, and prints the machine's CPU
per send less pgbench's own (PostgreSQL's), three rounds. Usage: [RATE] [SECONDS].
"""

import json
import subprocess
import sys
from pathlib import Path

from bench import run as bench

SHAPES = ((1, 16), (1, 4), (2, 8), (4, 4), (8, 2))  # (sends per transaction, pgbench clients)


def send_sql(env):
    """The statement of one send to the bench's first recipient, with its values in place (bench/profile.py)."""
    fixtures = json.dumps(bench.accept_leftovers()[0])
    out = subprocess.run([bench.PYTHON, "-m", "bench.profile", "--send-sql", fixtures], env=env, cwd=bench.ROOT,
                         check=True, capture_output=True, text=True).stdout
    (statement,) = json.loads(out.strip().splitlines()[-1])
    return statement


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
    main()
