"""HTTP side of the multichat project: logging in."""

from django.contrib.auth import authenticate, login
from django.http import HttpResponse, HttpResponseForbidden
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def log_in(request):
    """POST username/password: log in (sets the session cookie)."""
    user = authenticate(
        request, username=request.POST.get("username"), password=request.POST.get("password")
    )
    if user is None:
        return HttpResponseForbidden(b"bad credentials")
    login(request, user)
    return HttpResponse(b"logged in")


urlpatterns = [path("login/", log_in)]
