"""The embedded default: pushes are written to the log and count as accepted."""

import logging
import uuid

from .base import Provider, Result

logger = logging.getLogger("kilopush.push")


class LogProvider(Provider):
    def __init__(self, platform="any"):
        self.name = "log"
        self.platform = platform

    def send(self, pushes, answered=None):  # answers at once: its returned list is as early
        results = []
        for push in pushes:
            provider_id = f"log-{uuid.uuid4()}"
            logger.info(
                "push %s to %s device %s…: title=%r body=%r data=%r important=%r",
                provider_id,
                self.platform,
                push.token[:12],
                push.shown_title,
                push.body,
                push.data,
                push.important,
            )
            results.append(Result.accepted(provider_id))
        return results
