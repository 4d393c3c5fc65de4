"""The platform's URLs plus a bare Django JSON view: the benchmark's baseline in the same server."""

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from wiring.urls import urlpatterns as platform_urls
from messaging.send.views import send_message


@csrf_exempt
def bare(request):
    return JsonResponse({"response": {"status": 200, "id": "0"}})


urlpatterns = [
    path("bench/bare", bare),
    # The send view behind the full middleware stack (any path but /v1/messages/send takes it):
    # measures what the send API's own chain (kilopush/wsgi.py) saves, in the same run.
    path("bench/send-full-stack", send_message),
    *platform_urls,
]
