"""The language of what people read: the web app and the admin follow the browser or the device's choice.

Django's LocaleMiddleware picks the language (the kp_language cookie, else Accept-Language, else English) for
the pages only. The send API, the app API and the other machine endpoints answer in English whatever the
client asks for: their `message` texts are the published contract (DRF's own messages would be translated).
"""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.cache import patch_vary_headers

# GET/HEAD of these paths are pages a person reads; everything else is an API.
PAGE_PATHS = ("/", "/sw.js", "/manifest.webmanifest")
PAGE_PREFIXES = ("/admin/", "/jsi18n/")


def is_page(request):
    path = request.path_info
    if path.startswith(PAGE_PREFIXES):
        return True
    return path in PAGE_PATHS and request.method in ("GET", "HEAD")


class PageLocaleMiddleware(LocaleMiddleware):
    async_capable = False  # the WSGI web only (the stream's ASGI chain does not include it)

    def __call__(self, request):
        try:
            if is_page(request):
                response = super().__call__(request)
                patch_vary_headers(response, ("Cookie",))  # the language switch's cookie
                return response
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
            return self.get_response(request)
        finally:
            # A thread's next request (the send API skips this middleware) starts from the default again.
            translation.deactivate()
