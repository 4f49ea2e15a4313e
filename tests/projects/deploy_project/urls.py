"""The deploy project's views: ``/hello/?n=N`` -> ``"<REPLY_PREFIX>|<pid>|N"``,
and ``/slow/?n=N&s=S``, the same after S seconds (a consumer in progress
when its worker is told to stop)."""

import sys
import time

from django.http import HttpResponse
from django.urls import path

from .consumers import PID, REPLY_PREFIX


def hello(request):
    return HttpResponse(
        f"{REPLY_PREFIX}|{PID}|{request.GET.get('n', '')}", content_type="text/plain"
    )


def slow(request):
    # Said before sleeping, so a test can stop the worker mid-consumer.
    print(f"slow view started n={request.GET.get('n', '')}", file=sys.stderr, flush=True)
    time.sleep(float(request.GET.get("s", "1")))
    return hello(request)


urlpatterns = [path("hello/", hello), path("slow/", slow)]
