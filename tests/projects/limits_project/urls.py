"""The echo project's views plus ``/big/`` and ``/poll/``."""

import os
import time
from pathlib import Path

from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path
from echo_project.urls import urlpatterns as echo_patterns

MIB = 1024 * 1024


def record_path(name: str) -> Path:
    """A file the test reads, in the directory it chose."""
    return Path(os.environ["CHANNELS_TEST_RECORD_DIR"]) / name


def big(request):
    """``?mib=N`` MiB of zeros, streamed in 256 KiB pieces.

    After each piece the bytes produced so far are written to
    ``big-<tag>.progress``, so the test sees how far the worker got.
    """
    size = int(request.GET.get("mib", "64")) * MIB
    progress = record_path(f"big-{request.GET.get('tag', 'x')}.progress")
    piece = b"\0" * (256 * 1024)

    def pieces():
        produced = 0
        while produced < size:
            yield piece
            produced += len(piece)
            progress.write_text(str(produced))

    return StreamingHttpResponse(pieces(), content_type="application/octet-stream")


def poll(request):
    """A long poll that answers after ``?s=`` seconds."""
    time.sleep(float(request.GET.get("s", "2")))
    return HttpResponse(b"polled\n", content_type="text/plain")


urlpatterns = [*echo_patterns, path("big/", big), path("poll/", poll)]
