"""The PostgreSQL backend of DATABASES (base.py), and what the hot paths' cursor shares with it."""

import logging

logger = logging.getLogger("kilopush.postgresql")
_said = set()


def say_once(key, message, *args):
    """Logs `message` once per process (each thread's connection would repeat it)."""
    if key not in _said:
        _said.add(key)
        logger.info(message, *args)
