"""Django 3.2 through get_asgi_application(), configured in this one file:
an async view and a sync view (which asgiref runs in its thread
executor), and a POST read through request.body."""
import asyncio
import threading

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="asgi-test-not-secret",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    INSTALLED_APPS=["django.contrib.contenttypes"],
    DATABASES={},
)

from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402


async def async_view(request):
    await asyncio.sleep(0.01)
    return JsonResponse({"kind": "async", "path": request.path, "q": request.GET.get("q")})


def sync_view(request):
    return JsonResponse({"kind": "sync", "main_thread": threading.current_thread() is threading.main_thread()})


@csrf_exempt
def post_view(request):
    return HttpResponse(request.body.upper(), content_type="text/plain")


urlpatterns = [path("async/", async_view), path("sync/", sync_view), path("post/", post_view)]

application = get_asgi_application()
