"""The client's CPU for one PostgreSQL round trip, by how long the server takes:
`python -m bench.experiments.wait_cost [DATABASE_URL]`.

One psycopg connection in autocommit runs `SELECT pg_sleep(S)` for S = 0 (answered at once), 0.3 ms (about
the send's statement) and 10 ms, three rounds, and prints this process's CPU per round trip. A round trip
that makes the thread sleep costs it a wake-up (docs/benchmarks.md, Round three: what limits target 1).
"""

import sys
import time

import psycopg

WAITS = ((0.0, 5000), (0.0003, 3000), (0.01, 200))  # (seconds the server sleeps, round trips)


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else "postgres://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(url, autocommit=True) as conn:
        for round_ in range(3):
            for seconds, count in WAITS:
                cpu, wall = time.process_time(), time.perf_counter()
                for _ in range(count):
                    conn.execute("SELECT pg_sleep(%s)", [seconds], prepare=True).fetchone()
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                print(f"round {round_ + 1}: server {seconds * 1000:g} ms: client CPU {cpu / count * 1e6:.0f} us, "
                      f"wall {wall / count * 1e6:.0f} us per round trip", flush=True)


if __name__ == "__main__":
    main()
