"""`make run`'s one line when the platform is ready: `python -m kilopush.ready PORT` polls the web's /healthz
and, once it answers 200, prints `KILO.Push is running: open http://127.0.0.1:PORT/` and exits. It also exits,
silently, when `make run` (honcho, its parent) ends first. Standard library only: it starts at once."""

import os
import sys
import time
import urllib.error
import urllib.request

LINE = "KILO.Push is running: open {url}"
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 never goes through a proxy


def answers(url):
    try:
        with _opener.open(url, timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.HTTPError):  # not listening yet, or 503 (the database does not answer)
        return False


def wait_and_announce(port, interval=0.2):
    """True once the line is printed; False if the parent process ended first."""
    parent = os.getppid()
    url = f"http://127.0.0.1:{port}/"
    while os.getppid() == parent:
        if answers(url + "healthz"):
            print(LINE.format(url=url), flush=True)
            return True
        time.sleep(interval)
    return False


def main(argv):
    port = int(argv[0] if argv else os.environ.get("PORT", "8000"))
    try:
        return 0 if wait_and_announce(port) else 1
    except KeyboardInterrupt:  # Ctrl-C on `make run` reaches the whole foreground group
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
