"""One view, to tell Django's views from static files."""

from django.http import HttpResponse
from django.urls import path


def hello(request):
    """A fixed greeting."""
    return HttpResponse(b"hello from a view\n", content_type="text/plain")


urlpatterns = [path("", hello)]
