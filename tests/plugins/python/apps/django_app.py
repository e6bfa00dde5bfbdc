"""A single-file Django project for the framework tests."""
import django
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="trellis-test",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    INSTALLED_APPS=[],
)
django.setup()


def hello(request):
    return HttpResponse("Hello from Django " + request.GET.get("name", ""))


def post(request):
    return JsonResponse({"method": request.method, "body": request.body.decode(), "x": request.POST.get("x")})


urlpatterns = [path("hello", hello), path("post", post)]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
