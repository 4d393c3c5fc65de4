"""Debian's PgBouncer in transaction mode in front of the test database, started on a free port per test."""

import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings

from tests.procs import Process, free_port, wait_for_port

PGBOUNCER = "/usr/sbin/pgbouncer"  # `make test` installs it (apt-get install pgbouncer)


class PgBouncer:
    """pool_mode=transaction: each transaction (each statement in autocommit) may get another server connection."""

    def __init__(self, log_dir, *, pool_size=4):
        if not os.access(PGBOUNCER, os.X_OK):
            raise AssertionError(f"{PGBOUNCER} is missing: `make test` installs it (apt-get install -y pgbouncer)")
        db = settings.DATABASES["default"]
        self.port = free_port()
        # pgbouncer refuses to run as root: it drops to `nobody`, who must read its files (not under tmp_path).
        self.dir = Path(tempfile.mkdtemp(prefix="kilopush-pgbouncer-"))
        self.dir.chmod(0o755)
        (self.dir / "userlist.txt").write_text(f'"{db["USER"]}" ""\n')
        (self.dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.dir / 'userlist.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmax_client_conn = 1000\n"
        )
        for name in ("userlist.txt", "pgbouncer.ini"):
            (self.dir / name).chmod(0o644)
        args = [PGBOUNCER, str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:
            args[1:1] = ["-u", "nobody"]
        self.process = Process(args, dict(os.environ), Path(log_dir) / f"pgbouncer-{self.port}.log")
        self.log_path = self.process.log_path
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise AssertionError("pgbouncer did not start:\n" + self.process.log()) from None

    def log(self):
        return self.process.log()

    def stop(self):
        self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
