"""POST /v1/hooks/KEY: the hook URL. Answers the send API's envelope, every error with HTTP 400 as the send API does."""

from django.views.decorators.csrf import csrf_exempt

from kilopush.answers import JsonAnswer
from kilopush.errors import envelope, internal_error_response
from messaging.send import request as send_request

from ..sending import send, unlogged
from . import parse


@csrf_exempt
def hook(request, key):
    if request.method != "POST":
        response = envelope(4005, "Use POST", 405)
        response["Allow"] = "POST"
        return unlogged(response)
    header = request.META.get("HTTP_IDEMPOTENCY_KEY")
    sent = send(request, lambda: send_request.validate(parse.fields(request), key=key, idempotency_header=header),
                name="hook")
    if sent.internal:
        return unlogged(internal_error_response())
    if sent.error is not None:
        return unlogged(envelope(sent.error.status, sent.error.message, 400, sent.error.headers))
    response = JsonAnswer({"response": {"status": 200, "id": str(sent.message_id)}})
    for name, value in sent.headers.items():
        response[name] = value
    return response
