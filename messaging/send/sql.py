"""Every SQL statement of the send, in one file.

The hot path writes in plain SQL: the ORM's per-query overhead was most of a send's cost. On PostgreSQL a send
without Idempotency-Key, replace or upload is one statement, SEND (SEND_BY_KEY for a send key): it reads the send
context and the client's ban and, if every check passes, takes the quota and writes the message and its
deliveries. STORE / STORE_KEYED write after a context read in Python (a keyed send, a replace, an upload);
INSERT_MESSAGE / INSERT_DELIVERIES are the embedded SQLite's steps. The one fragment from outside is the daily
quota's (channels_app/quota.py, where its rule is decided). tests/send/test_send_sql.py compares every statement
assembled here with tests/send/send_sql.snapshot, so a change to them shows in review.
"""

from channels_app import quota
from channels_app.models import Channel, SendKey
from users_app.models import AppUser, BlacklistEntry, Device

from ..models import Delivery, Message, SendBan

# --- the send context: the channel (by token, or by send key), its owner, the recipient, the blacklist ---


def send_context_sql(*, by_key=False):
    """The SELECT behind channel_send_context, named parameters %(to)s and %(token)s, SendContext's columns.

    `by_key`: the channel and recipient of the send key whose digest is %(digest)s instead; its
    `secret_digest` column is that digest, so the caller's secret check holds by construction.
    Also a part of the send's one statement on PostgreSQL (SEND below).
    """
    channel = Channel._meta.db_table
    user = AppUser._meta.db_table
    blacklist = BlacklistEntry._meta.db_table
    columns = f"""
SELECT c.id AS channel_id, {"k.digest" if by_key else "c.secret_digest"} AS secret_digest,
       c.is_verified AS channel_verified, c.is_blocked AS channel_blocked,
       o.is_blocked AS owner_blocked, r.id AS recipient_id, r.is_blocked AS recipient_blocked,
       EXISTS (SELECT 1 FROM {blacklist} b WHERE b.user_id = r.id AND b.channel_id = c.id) AS blacklisted"""
    if by_key:
        return f"""{columns}
FROM {SendKey._meta.db_table} k
JOIN {channel} c ON c.id = k.channel_id
JOIN {user} o ON o.id = c.owner_id
JOIN {user} r ON r.id = k.recipient_id
WHERE k.digest = %(digest)s
"""
    return f"""{columns}
FROM {channel} c
JOIN {user} o ON o.id = c.owner_id
LEFT JOIN {user} r ON r.token = %(to)s
WHERE c.token = %(token)s
"""


def send_key_touch_sql():
    """Marks the send key whose digest is %(digest)s used at %(now)s (at most once a minute: no write per send)."""
    return f"""
UPDATE {SendKey._meta.db_table} SET last_used_at = %(now)s
WHERE digest = %(digest)s AND (last_used_at IS NULL OR last_used_at < %(now)s - INTERVAL '1 minute')"""


SEND_CONTEXT = send_context_sql()
SEND_CONTEXT_BY_KEY = send_context_sql(by_key=True)
KEY_TOUCH = send_key_touch_sql()
# The ban's expiry (NULL when not banned) as a subquery of named parameters %(client)s and %(now)s (messaging/bans.py).
BAN_UNTIL = f"SELECT until FROM {SendBan._meta.db_table} WHERE client = %(client)s AND until > %(now)s"


# --- the message and its deliveries ---


def _devices_where(recipient):
    """The devices a message to `recipient` (an SQL expression) is pushed to."""
    return f"""
FROM {Device._meta.db_table} d
WHERE d.user_id = {recipient} AND d.is_active AND d.platform IN ({", ".join(f"'{p}'" for p in Device.PUSH_PLATFORMS)})
  AND d.push_token <> ''
  AND (d.platform <> '{Device.WEB}' OR (d.web_auth <> '' AND COALESCE(%(important)s, TRUE)))
"""  # browsers must show every push, so silent (important=false) messages get no Web Push


_DEVICES_WHERE = _devices_where("%(recipient)s")
# An attachment is columns of the message: a send without one writes them empty in the same statement.
_ATTACHMENT_COLUMNS = ("attachment_url", "attachment_file", "attachment_type", "attachment_width", "attachment_height",
                       "attachment_size")
_MESSAGE_COLUMNS = "recipient_id, channel_id, title, text, url, important, had_devices, created_at, " \
    "idempotency_key, expires_at, collapse_id, format, " + ", ".join(_ATTACHMENT_COLUMNS)
_MESSAGE_COLUMNS += ", priority, emergency_retry, emergency_until, emergency_next_at, actions"  # issue 24's


def _message_values(recipient, channel):
    return f"{recipient}, {channel}, %(title)s, %(text)s, %(url)s, %(important)s, " \
        f"EXISTS (SELECT 1 {_devices_where(recipient)}), %(now)s, %(idempotency_key)s, %(expires_at)s, " \
        "%(collapse_id)s, %(format)s, " + ", ".join(f"%({column})s" for column in _ATTACHMENT_COLUMNS) \
        + _ATTENTION_VALUES


_ATTENTION_VALUES = ", %(priority)s, %(emergency_retry)s, %(emergency_until)s, %(emergency_next_at)s, %(actions)s"


def _insert_deliveries(message):
    """INSERT ... SELECT of one queued delivery per device of the message's recipient, from `message` (id, recipient_id)."""
    return f"""
INSERT INTO {Delivery._meta.db_table}
    (message_id, device_id, state, attempts, provider_message_id, last_error, created_at, updated_at)
SELECT {message}.id, d.id, '{Delivery.QUEUED}', 0, '', '', %(now)s, %(now)s
FROM {message}, LATERAL (SELECT d.id {_devices_where(f"{message}.recipient_id")}) d
"""


_MESSAGE_VALUES = _message_values("%(recipient)s", "%(channel)s")
# With an Idempotency-Key, a concurrent duplicate waits for the first one's commit, then inserts nothing.
_ON_KEY_CONFLICT = "ON CONFLICT (channel_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
INSERT_MESSAGE = f"""
INSERT INTO {Message._meta.db_table} ({_MESSAGE_COLUMNS})
VALUES ({_MESSAGE_VALUES})
{{on_conflict}}
RETURNING id
"""
INSERT_DELIVERIES = f"""
INSERT INTO {Delivery._meta.db_table}
    (message_id, device_id, state, attempts, provider_message_id, last_error, created_at, updated_at)
SELECT %(message)s, d.id, '{Delivery.QUEUED}', 0, '', '', %(now)s, %(now)s {_DEVICES_WHERE}
"""
# PostgreSQL, after the send context was read: quota, message and deliveries in one atomic statement.
STORE = f"""
WITH quota AS (
    {quota.take_sql(only_if="%(limited)s")}
), message AS (
    INSERT INTO {Message._meta.db_table} ({_MESSAGE_COLUMNS})
    SELECT {_MESSAGE_VALUES}
    WHERE NOT %(limited)s OR EXISTS (SELECT 1 FROM quota)
    {{on_conflict}}
    RETURNING id, recipient_id
), deliveries AS ({_insert_deliveries("message")}
    RETURNING 1
)
SELECT (SELECT id FROM message), (SELECT count FROM quota), (SELECT count(*) FROM deliveries)
"""
STORE_KEYED = STORE.format(on_conflict=_ON_KEY_CONFLICT)
STORE = STORE.format(on_conflict="")
INSERT_MESSAGE_KEYED = INSERT_MESSAGE.format(on_conflict=_ON_KEY_CONFLICT)
INSERT_MESSAGE = INSERT_MESSAGE.format(on_conflict="")
# PostgreSQL, a send without Idempotency-Key or replace (nearly all of them): the send context and the
# client's failed-attempt ban (messaging/bans.py) are read and, if every check passes, the quota, the
# message and its deliveries are written, in one statement and one round trip. The secret is compared as its keyed digest (an HMAC with DIGEST_KEY: its timing
# tells nothing about the secret). The checks' order and answers stay in Python (`_refuse_sender`,
# `_refuse_delivery`), read from the context columns the statement returns first.
# A send key's send (hooks, Gotify, ntfy) reads its context by the key's digest and marks the key used.
def _send_pg_sql(*, by_key):
    touch = f"), touched AS ({KEY_TOUCH}\n    RETURNING 1" if by_key else ""
    return f"""
WITH context AS ({SEND_CONTEXT_BY_KEY if by_key else SEND_CONTEXT}{touch}
), ban AS ({BAN_UNTIL}
), ok AS (
    SELECT channel_id, recipient_id, channel_verified FROM context
    WHERE secret_digest = %(digest)s AND recipient_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ban)
      AND NOT (channel_blocked OR owner_blocked OR recipient_blocked OR blacklisted)
), quota AS (
    {quota.take_sql(channel="ok.channel_id", source="ok", only_if=quota.limited_sql("ok.channel_verified"))}
), message AS (
    INSERT INTO {Message._meta.db_table} ({_MESSAGE_COLUMNS})
    SELECT {_message_values("ok.recipient_id", "ok.channel_id")}
    FROM ok WHERE NOT ({quota.limited_sql("ok.channel_verified")}) OR EXISTS (SELECT 1 FROM quota)
    RETURNING id, recipient_id
), deliveries AS ({_insert_deliveries("message")}
    RETURNING 1
)
SELECT context.*, (SELECT id FROM message), (SELECT count FROM quota), (SELECT count(*) FROM deliveries),
       (SELECT until FROM ban)
FROM (SELECT 1) AS one LEFT JOIN context ON TRUE
"""


SEND = _send_pg_sql(by_key=False)
SEND_BY_KEY = _send_pg_sql(by_key=True)
