"""The stream's reads: what changed for a set of users above given ids, and whose access token died."""

from django.conf import settings
from django.db import connection
from django.http.request import split_domain_port

from kilopush.queries import hot_cursor

from messaging.models import InboxEvent, Message
from users_app.models import AccessToken, AppUser

MESSAGE_ROW, EVENT_ROW, MAX_ROW, ACCOUNT_ROW = 0, 1, 2, 3


def _in(column, values, params):
    """`column = ANY(array)` on PostgreSQL (one parameter for thousands of users), an IN list elsewhere."""
    if connection.vendor == "postgresql":
        params.append(list(values))
        return f"{column} = ANY(%s)"
    params.extend(values)
    return f"{column} IN ({', '.join(['%s'] * len(values))})"


def changes_since(*, user_ids, message_floor=0, event_floor=0, account_ids=None):
    """One statement: the users' message ids and inbox events above the floors, the global maxima, and the
    access token digests of `account_ids` (when given; an account may have several, one per linked device).

    Returns (messages [(id, user id)], events [(id, user id, kind, data)], (max message id, max event id),
    digests {user id: {digest, ...}} or None).
    """
    message, event, token = Message._meta.db_table, InboxEvent._meta.db_table, AccessToken._meta.db_table
    user = AppUser._meta.db_table
    params = []
    parts = [f"SELECT {MAX_ROW}, (SELECT max(id) FROM {message}), (SELECT max(id) FROM {event}), NULL, NULL"]
    if user_ids:
        users = sorted(user_ids)
        params.append(message_floor)
        parts.append(
            f"SELECT {MESSAGE_ROW}, id, recipient_id, NULL, NULL FROM {message} "
            f"WHERE id > %s AND {_in('recipient_id', users, params)}"
        )
        params.append(event_floor)
        parts.append(
            f"SELECT {EVENT_ROW}, id, user_id, kind, data FROM {event} WHERE id > %s AND {_in('user_id', users, params)}"
        )
    if account_ids:
        parts.append(
            f"SELECT {ACCOUNT_ROW}, t.user_id, NULL, t.digest, NULL FROM {token} t JOIN {user} u ON u.id = t.user_id "
            f"WHERE NOT u.is_blocked AND {_in('t.user_id', sorted(account_ids), params)}"  # blocked by staff: streams close
        )
    messages, events, maxima, digests = [], [], (0, 0), ({} if account_ids is not None else None)
    # Bound on the server (kilopush.queries.hot_cursor): Django's cursor writes each id array into the SQL text
    # in Python, and with 10,000 streams that was a fifth of the stream process's idle CPU (issue 27).
    with hot_cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        for row_type, a, b, c, d in cursor.fetchall():
            if row_type == MESSAGE_ROW:
                messages.append((a, b))
            elif row_type == EVENT_ROW:
                events.append((a, b, c, d))
            elif row_type == MAX_ROW:
                maxima = (a or 0, b or 0)
            else:
                digests.setdefault(a, set()).add(c)
    messages.sort()
    events.sort()
    return messages, events, maxima, digests


def latest_message_id(user_id):
    return Message.objects.filter(recipient_id=user_id).order_by("-id").values_list("id", flat=True).first() or 0


def stream_url(request=None):
    """The absolute URL clients open the stream at: STREAM_URL, else SITE_URL's, else the request's host on STREAM_PORT."""
    if settings.STREAM_URL:
        return settings.STREAM_URL
    if settings.SITE_URL:
        return settings.SITE_URL + "/v1/app/stream"
    host, scheme = "127.0.0.1", "http"
    if request is not None:
        host, scheme = split_domain_port(request.get_host())[0] or host, request.scheme
        host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{settings.STREAM_PORT}/v1/app/stream"
