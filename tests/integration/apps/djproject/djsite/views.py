import hashlib
import os

from django.http import FileResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt


def info(request):
    return JsonResponse({
        "host": request.get_host(),
        "path": request.path,
        "path_info": request.path_info,
        "absolute": request.build_absolute_uri(),
        "method": request.method,
        "query": request.GET.dict(),
        "user": str(request.user),
        "remote_addr": request.META.get("REMOTE_ADDR"),
    })


@csrf_exempt
def upload(request):
    f = request.FILES["file"]
    data = f.read()
    return JsonResponse({"name": f.name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                         "field": request.POST.get("field")})


def form(request):
    # CSRF-protected (no exemption): a POST without a token is 403.
    return JsonResponse({"value": request.POST.get("value")})


def boom(request):
    raise RuntimeError("django-view-exception-marker")


def download(request, name):
    # FileResponse is handed to environ["wsgi.file_wrapper"] by Django's WSGI handler.
    return FileResponse(open(os.path.join(os.environ["APP_STATE_DIR"], name), "rb"))


def stream(request):
    n = int(request.GET.get("n", "5"))
    return StreamingHttpResponse((f"line {i}\n" for i in range(n)), content_type="text/plain")
