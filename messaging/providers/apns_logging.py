"""aioapns logs every dropped or refused connection at ERROR, yet the push is retried (by aioapns, then by
the delivery pipeline). Those lines become WARNING; ERROR is kept for what an operator must act on, which
messaging.providers.apns logs itself (a refused provider token or topic)."""

import logging

RETRIED = ("Could not connect to server", "Failed to send after")


class RetriedConnectionFilter(logging.Filter):
    """On the "aioapns" logger (settings.LOGGING): its ERRORs about connections, as WARNING."""

    def filter(self, record):
        if record.levelno >= logging.ERROR and str(record.msg).startswith(RETRIED):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
