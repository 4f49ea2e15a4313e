"""Django views of the ops project (reached through ``http.request``)."""

from django.http import HttpResponse, JsonResponse
from django.urls import path


def hello(request):
    """A fixed greeting: the target of ``channels bench http``."""
    return HttpResponse(b"hello\n", content_type="text/plain")


def whoami(request):
    """What a Django view sees of the client, after any proxy headers."""
    return JsonResponse(
        {
            "remote_addr": request.META.get("REMOTE_ADDR"),
            "remote_port": request.META.get("REMOTE_PORT"),
            "scheme": request.scheme,
            "secure": request.is_secure(),
            "script_name": request.META.get("SCRIPT_NAME"),
            "path": request.path,
        }
    )


urlpatterns = [path("", hello), path("whoami/", whoami)]
