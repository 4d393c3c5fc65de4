"""Paired A/B of send / bare: two web servers that differ only in their environment, in alternating slices.

The accept phase's ratio moves by ±10-30% between runs on a shared 2-core machine (and the bare view
sometimes runs at half its rate for a whole measurement), so a change worth 5-10% does not show
between two runs of `make bench`. Here both servers run side by side (one idle while the other is
measured) and each slice measures the bare view, then the send, on A and then on B (B first in every
other slice), so that whatever the machine does meanwhile hits both alike. A wrk run that left a web worker
idle is measured again (bench.run.balanced_wrk). It prints each slice, the medians and the median of the
per-slice differences B - A.

It reuses the database, Redis and fixtures the accept phase leaves behind: run
`make bench BENCH_ARGS="--only accept --web plain --repeat 1 --no-profile"` once first. Example:

    .venv/bin/python -m bench.paired --a DELIVERY_NUDGE_LINGER_MS=0 --b DELIVERY_NUDGE_LINGER_MS=5
"""

import argparse
import statistics

from bench import run as bench


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", action="append", default=[], metavar="NAME=VALUE", help="server A's environment")
    parser.add_argument("--b", action="append", default=[], metavar="NAME=VALUE", help="server B's environment")
    parser.add_argument("--web", choices=bench.WEB_CONFIGS, default="plain", help="the web configuration (default plain)")
    parser.add_argument("--slices", type=int, default=8, help="slices (default 8)")
    parser.add_argument("--seconds", type=int, default=3, help="seconds per wrk measurement (default 3)")
    args = parser.parse_args(argv)
    work_dir = bench.ROOT / "var" / "bench"
    _, send_body = bench.accept_leftovers()
    env = {**bench.bench_env(*bench.bench_urls()), "WEB_NICE": "0"}
    servers = {}
    try:
        for name, extra in (("A", args.a), ("B", args.b)):
            own = dict(pair.split("=", 1) for pair in extra)
            servers[name] = bench.start_web(f"paired-{name}", args.web, {**env, **own})
        for _, port in servers.values():
            for path, body in (("/bench/bare", {}), ("/v1/messages/send", send_body)):  # warm-up
                bench.wrk(f"http://127.0.0.1:{port}{path}", body, 2, 16, work_dir)
        ratios = {"A": [], "B": []}
        for index in range(args.slices):
            for name in ("A", "B") if index % 2 == 0 else ("B", "A"):
                base = f"http://127.0.0.1:{servers[name][1]}"
                pids = servers[name][0].pids()
                bare = bench.balanced_wrk(pids, base + "/bench/bare", {}, args.seconds, 16, work_dir)["rps"]
                send = bench.balanced_wrk(pids, base + "/v1/messages/send", send_body, args.seconds, 16, work_dir)["rps"]
                ratios[name].append(send / bare)
                print(f"slice {index} {name}: bare {bare:.0f}/s, send {send:.0f}/s, send / bare {send / bare:.3f}",
                      flush=True)
    finally:
        for proc, _ in servers.values():
            proc.stop()
    for name, extra in (("A", args.a), ("B", args.b)):
        values = ratios[name]
        print(f"{name} ({' '.join(extra) or 'as configured'}): send / bare median {statistics.median(values):.3f}, "
              f"range {min(values):.3f}-{max(values):.3f}")
    differences = [b - a for a, b in zip(ratios["A"], ratios["B"])]
    print(f"B - A per slice: {', '.join(f'{d:+.3f}' for d in differences)}; "
          f"median {statistics.median(differences):+.3f}")


if __name__ == "__main__":
    main()
