"""Incoming protocols in front of the one send service: the hook URL, Gotify's and ntfy's publishing.

Each sub-package parses its own wire format into a SendRequest with a send key (k_…) and renders the
answer in its own wire format; every rule (quota, blacklist, blocks, bans, idempotency) stays in
messaging.send.service.message_send, and the ban check, failed-attempt counting and metrics in
messaging.send.views.sender_call (docs/integrations.md).
"""
