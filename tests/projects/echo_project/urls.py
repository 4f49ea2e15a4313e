"""HTTP views of the echo project."""

import hashlib
import time

from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


def hello(request):
    """A fixed greeting."""
    return HttpResponse(b"hello\n", content_type="text/plain")


@csrf_exempt
def echo(request):
    """The request body back, with what the worker saw of the request."""
    response = HttpResponse(request.body, content_type="application/octet-stream")
    response["x-method"] = request.method
    response["x-client"] = request.META.get("REMOTE_ADDR", "")
    response["x-scheme"] = request.scheme
    return response


@csrf_exempt
def digest(request):
    """Length and SHA-256 of the body (for large, chunked uploads)."""
    body = request.body
    return HttpResponse(
        f"{len(body)} {hashlib.sha256(body).hexdigest()}", content_type="text/plain"
    )


def stream(request):
    """A streamed response in several pieces (chunked on the wire)."""
    return StreamingHttpResponse(
        (f"part {i}\n".encode() for i in range(5)), content_type="text/plain"
    )


def slow(request):
    """Sleeps, to let tests hit the HTTP timeout."""
    time.sleep(float(request.GET.get("s", "3")))
    return HttpResponse(b"late\n")


urlpatterns = [
    path("", hello),
    path("echo/", echo),
    path("digest/", digest),
    path("stream/", stream),
    path("slow/", slow),
]
