"""A small open-loop HTTP/1.1 load generator (asyncio, keep-alive): requests at a fixed rate.

wrk measures the maximum rate (closed loop); this sends at a chosen rate, so latency is
measured without coordinated omission, and records each answer's message id and time.
"""

import asyncio
import json
import time


class Connection:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def request(self, path, body):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        length = 0
        close = False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        payload = await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.writer = None
        return int(status_line.split()[1]), payload


async def run_at_rate(host, port, path, bodies, rate, duration, connections=64):
    """Sends bodies (cycled) at `rate` per second for `duration` seconds.

    Returns a list of (sent_at, latency_s, http_status, message_id or None); sent_at is the
    scheduled time (time.time()), so a server that stalls shows the stall in the latency.
    """
    idle = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(Connection(host, port))
    results = []
    tasks = []
    total = int(rate * duration)
    start = time.time() + 0.05

    async def one(index, scheduled):
        conn = await idle.get()
        try:
            status, payload = await conn.request(path, bodies[index % len(bodies)])
        except (OSError, asyncio.IncompleteReadError):
            conn.writer = None
            status, payload = 0, b"{}"
        finally:
            idle.put_nowait(conn)
        done = time.time()
        message_id = None
        if status == 200:
            message_id = json.loads(payload)["response"].get("id")
        results.append((scheduled, done - scheduled, status, message_id))

    for index in range(total):
        scheduled = start + index / rate
        delay = scheduled - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, scheduled)))
    await asyncio.gather(*tasks)
    return results


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]
