"""The deploy project's one view: ``/hello/?n=N`` -> ``"<REPLY_PREFIX>|<pid>|N"``."""

from django.http import HttpResponse
from django.urls import path

from .consumers import PID, REPLY_PREFIX


def hello(request):
    return HttpResponse(
        f"{REPLY_PREFIX}|{PID}|{request.GET.get('n', '')}", content_type="text/plain"
    )


urlpatterns = [path("hello/", hello)]
