"""The send (POST /v1/messages/send, its status and withdraw), readable whole.

views.py     the HTTP views: decode, call the service, render the envelope (sender_call: bans, errors)
request.py   the published fields: decoding a body and validating it into a SendRequest
guards.py    the byte-level checks shared with the integrations (charsets, JSON depth, urls, surrogates)
schema.py    the OpenAPI description, built from request.FIELDS
service.py   message_send, the one door (the API, hooks, Gotify, ntfy): the checks in their published order
sql.py       every SQL statement of the send; tests/send/test_send_sql.py snapshots them
"""
