"""Django views of the ops project (reached through ``http.request``)."""

from django.http import HttpResponse
from django.urls import path


def hello(request):
    """A fixed greeting: the target of ``channels bench http``."""
    return HttpResponse(b"hello\n", content_type="text/plain")


urlpatterns = [path("", hello)]
