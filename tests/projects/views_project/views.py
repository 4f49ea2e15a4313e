"""Views whose every byte the end-to-end tests check."""

import hashlib
import io
import json

from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt


def hello(request):
    response = HttpResponse("Hello, channels!", content_type="text/plain")
    response.set_cookie("greeted", "yes")
    return response


def echo_get(request):
    return JsonResponse({k: request.GET.getlist(k) for k in request.GET})


@csrf_exempt
def form(request):
    return JsonResponse(
        {"method": request.method, "post": dict(request.POST.lists()), "cookies": request.COOKIES}
    )


@csrf_exempt
def upload(request):
    upload = request.FILES["file"]
    data = upload.read()
    return JsonResponse(
        {
            "name": upload.name,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "title": request.POST.get("title"),
        }
    )


def stream(request):
    count = int(request.GET.get("n", "5"))
    return StreamingHttpResponse(
        (f"line {i}\n".encode() for i in range(count)), content_type="text/plain"
    )


def file(request):
    size = int(request.GET.get("size", "1000000"))
    data = bytes(i % 251 for i in range(size))
    return FileResponse(io.BytesIO(data), content_type="application/octet-stream")


def boom(request):
    raise ValueError("view exploded on purpose")


def meta(request):
    keys = [
        "REQUEST_METHOD",
        "QUERY_STRING",
        "SCRIPT_NAME",
        "PATH_INFO",
        "REMOTE_ADDR",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "HTTP_X_CUSTOM",
        "CONTENT_TYPE",
    ]
    return HttpResponse(
        json.dumps(
            {k: request.META.get(k) for k in keys}
            | {"path": request.path, "path_info": request.path_info, "scheme": request.scheme}
        ),
        content_type="application/json",
    )
