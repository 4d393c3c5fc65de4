"""Where SECRET_KEY comes from when it is not set (issue 16, item 8).

Imported by settings.py, so it uses nothing from Django's settings.

- SECRET_KEY (or SECRET_KEY_FILE) set: used as given.
- Embedded mode (SQLite): a random key is generated once into KILOPUSH_VAR_DIR/secret_key
  (created atomically, mode 0600) and read back by every process (web, worker, beat).
  An embedded database created before that file existed was encrypted with the former
  built-in key: that key is kept for it (written to the file), and `kilopush.W100` says so.
- PostgreSQL (a deployment): there is no default. A throw-away per-process key keeps
  Django importable, and the system check `kilopush.E100` refuses to start.
"""

import os
import secrets
from pathlib import Path

# The key every deployment used before issue 16 when SECRET_KEY was not set. Public: never a default again.
LEGACY_BUILTIN_KEY = "django-insecure-embedded-default-set-SECRET_KEY-in-production"
KEY_FILE_NAME = "secret_key"


def _create_once(path, value):
    """Writes `value` to `path` unless it exists, atomically: a reader sees no file or the whole key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if another process created it first: theirs wins
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def embedded_secret_key(var_dir, database_file):
    """(key, origin) for embedded mode; origin is "file", "generated" or "legacy"."""
    path = Path(var_dir) / KEY_FILE_NAME
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key, "legacy" if key == LEGACY_BUILTIN_KEY else "file"
    if database_file and Path(database_file).exists():
        # Its Channel Secret Keys and access-token digests were made with the built-in key.
        return _create_once(path, LEGACY_BUILTIN_KEY), "legacy"
    key = _create_once(path, secrets.token_urlsafe(50))
    return key, "legacy" if key == LEGACY_BUILTIN_KEY else "generated"
