"""The platform's URLs plus a bare Django JSON view: the benchmark's baseline in the same server."""

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from kilopush.urls import urlpatterns as platform_urls


@csrf_exempt
def bare(request):
    return JsonResponse({"response": {"status": 200, "id": "0"}})


urlpatterns = [path("bench/bare", bare), *platform_urls]
