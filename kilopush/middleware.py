from django.conf import settings

from kilopush.errors import envelope

SEND_PATH = "/v1/messages/send"


class BodySizeLimitMiddleware:
    """Refuses API bodies over DATA_UPLOAD_MAX_MEMORY_SIZE from Content-Length alone, before anything reads them.

    Django enforces the limit only when request.body is read, but DRF's parsers read the
    stream directly, so without this a JSON body of any size would be parsed. Multipart
    logo uploads of the app API have their own, larger limit (channels_app.api).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/v1/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return envelope(4000, "Invalid Content-Length", 400)
            multipart = request.META.get("CONTENT_TYPE", "").lower().startswith("multipart/")
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if length > limit and (request.path == SEND_PATH or not multipart):
                return envelope(4000, f"Request body too large (at most {limit} bytes)", 400)
        return self.get_response(request)
