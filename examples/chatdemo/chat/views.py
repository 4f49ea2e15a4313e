"""The demo's pages: sign up, a room list and a chat room (login required)."""

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render


def signup(request: HttpRequest) -> HttpResponse:
    """Create an account and log in."""
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.save())
        return redirect("index")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """Pick a room."""
    if request.GET.get("room"):
        return redirect("room", room=request.GET["room"])
    return render(request, "chat/index.html")


@login_required
def room(request: HttpRequest, room: str) -> HttpResponse:
    """One chat room; the page opens a WebSocket to /chat/<room>/."""
    return render(request, "chat/room.html", {"room": room})
