"""Real processes and network faults for end-to-end tests: gunicorn, celery worker, Redis, a cuttable TCP proxy."""

import os
import shlex
import select
import shutil
import signal
import socket
import subprocess
from pathlib import Path
import sys
import threading
import time
import urllib.error
import urllib.request

from django.conf import settings


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port_pair():
    """A free port whose next port is free too: `make run` serves the stream on PORT + 1."""
    for _ in range(100):
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no two free ports in a row")


def wait_for_port(port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def database_url_for(port=None):
    """A DATABASE_URL for the pytest database, optionally through another port (a proxy)."""
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{port or db['PORT'] or 5432}/{db['NAME']}"


def base_env(**overrides):
    # PROMETHEUS_MULTIPROC_DIR: each child derives its own from KILOPUSH_VAR_DIR unless a test shares one.
    dropped = ("PYTEST_", "DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(DJANGO_SETTINGS_MODULE="kilopush.settings", PYTHONUNBUFFERED="1")
    env.update({k: str(v) for k, v in overrides.items()})
    return env


class Process:
    """A child process with its output in a log file, always killed on exit."""

    def __init__(self, args, env, log_path):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            args, env=env, cwd=settings.BASE_DIR, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self._log.close()

    def stop(self):
        self.kill(signal.SIGTERM)


def start_gunicorn(tmp_path, *, port=None, shell_before=None, **env):
    """gunicorn with the Procfile's configuration; `shell_before`: a shell command run first in its session."""
    port = port or free_port()
    args = [
        os.path.join(os.path.dirname(sys.executable), "gunicorn"),
        "kilopush.wsgi",
        "--config",
        "python:kilopush.gunicorn_conf",
        "--bind",
        f"127.0.0.1:{port}",
    ]
    env.setdefault("WEB_CONCURRENCY", 2)
    if shell_before:
        args = ["sh", "-c", f"{shell_before}\nexec {shlex.join(args)}"]
    proc = Process(args, base_env(**env), tmp_path / f"gunicorn-{port}.log")
    try:
        wait_for_port(port)
    except TimeoutError:
        proc.kill()
        raise AssertionError("gunicorn did not start:\n" + proc.log())
    proc.url = f"http://127.0.0.1:{port}"
    return proc


def start_worker(tmp_path, *, beat=True, concurrency=1, **env):
    """A real `celery worker` (with embedded beat for the sweep unless beat=False), started and ready."""
    name = f"worker-{free_port()}"
    args = [sys.executable, "-m", "celery", "-A", "kilopush", "worker", "--pool", "prefork",
            "--concurrency", str(concurrency), "--loglevel", "INFO", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "-n", f"{name}@localhost"]
    if beat:
        args.append("-B")
    env.setdefault("KILOPUSH_VAR_DIR", str(tmp_path / f"var-{name}"))
    proc = Process(args, base_env(**env), tmp_path / f"{name}.log")
    deadline = time.monotonic() + 30
    while "ready." not in proc.log():
        if proc.proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("celery worker did not start:\n" + proc.log())
        time.sleep(0.05)
    return proc


def http(method, url, body=None, content_type="application/json", timeout=30):
    """(status, headers, body bytes) without raising on HTTP errors."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": content_type} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


class RedisServer:
    """A private redis-server without persistence, which a test may restart at will."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.tmp_path = tmp_path
        self.proc = None
        self.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed for this test"
        self.proc = Process(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            os.environ.copy(),
            self.tmp_path / f"redis-{self.port}-{time.monotonic_ns()}.log",
        )
        wait_for_port(self.port)

    def stop(self):
        self.proc.kill()

    def restart(self):
        self.stop()
        self.start()


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; cut() makes the target unreachable (refused, existing links reset)."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.port = free_port()
        self._links = []
        self._lock = threading.Lock()
        self._listener = None
        self._stopped = threading.Event()
        self.restore()

    def restore(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._links.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a, b):
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 1.0)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        raise OSError("closed")
                    (b if sock is a else a).sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            for sock in (a, b):
                try:
                    sock.close()
                except OSError:
                    pass

    def cut(self):
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked in another thread
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            links, self._links = self._links, []
        for client, upstream in links:
            for sock in (client, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def close(self):
        self.cut()


def start_stream(tmp_path, **env):
    """The Procfile's `stream` process (uvicorn, ASGI), started and listening."""
    port = free_port()
    args = [
        os.path.join(os.path.dirname(sys.executable), "uvicorn"),
        "kilopush.asgi:application",
        "--http",
        "stream_app.server:StreamHttpProtocol",
        "--no-proxy-headers",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--lifespan",
        "off",
        "--no-access-log",
    ]
    proc = Process(args, base_env(**env), tmp_path / f"stream-{port}.log")
    try:
        wait_for_port(port)
    except TimeoutError:
        proc.kill()
        raise AssertionError("the stream process did not start:\n" + proc.log())
    proc.url = f"http://127.0.0.1:{port}"
    proc.port = port
    return proc


NGINX = "/usr/sbin/nginx"
SITE = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "kilopush.conf"
PRODUCTION_VAR_DIR = "/var/lib/kilopush"


def nginx_config(tmp_path, *, listen, web_port, stream_port, var_dir):
    """The site file as shipped, with the test's ports and files, inside a main configuration like Debian's."""
    site = SITE.read_text()
    for production, test in (
        ("listen 80;", f"listen 127.0.0.1:{listen};"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{web_port};"),
        ("server 127.0.0.1:8001;", f"server 127.0.0.1:{stream_port};"),
        ("/var/log/nginx/access.log", str(tmp_path / "nginx" / "access.log")),
    ):
        assert site.count(production) == 1, production
        site = site.replace(production, test)
    assert PRODUCTION_VAR_DIR in site
    site = site.replace(PRODUCTION_VAR_DIR, str(var_dir))
    temp = tmp_path / "nginx"
    temp.mkdir()
    (temp / "site.conf").write_text(site)
    main = f"""
user root root;
worker_processes 1;
pid {temp}/nginx.pid;
error_log {temp}/error.log info;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {temp}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {temp}/site.conf;
}}
"""
    path = temp / "nginx.conf"
    path.write_text(main)
    return path


def start_nginx(tmp_path, *, web_port, stream_port, var_dir):
    """Debian's nginx with deploy/nginx/kilopush.conf as shipped (nginx_config), checked, started and listening."""
    assert os.access(NGINX, os.X_OK), "nginx is needed (make test installs nginx-light)"
    listen = free_port()
    config = nginx_config(tmp_path, listen=listen, web_port=web_port, stream_port=stream_port, var_dir=var_dir)
    check = subprocess.run([NGINX, "-t", "-c", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    nginx = Process([NGINX, "-c", str(config), "-g", "daemon off;"], os.environ.copy(), tmp_path / "nginx.out")
    try:
        wait_for_port(listen)
    except TimeoutError:
        nginx.kill()
        raise AssertionError("nginx did not start:\n" + nginx.log())
    nginx.port = listen
    return nginx
