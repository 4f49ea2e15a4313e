"""The demo's pages: sign up, a room list and a chat room (login required)."""

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.validators import slug_re
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
    room = request.GET.get("room")
    if room and slug_re.match(room):
        return redirect("room", room=room)
    if room:
        # Only slugs make room URLs; anything else (typed past the form's
        # pattern) gets the form back, not a NoReverseMatch 500.
        error = "Room names use letters, digits, - and _ only."
        return render(request, "chat/index.html", {"room": room, "error": error}, status=400)
    return render(request, "chat/index.html", {"room": "lobby"})


@login_required
def room(request: HttpRequest, room: str) -> HttpResponse:
    """One chat room; the page opens a WebSocket to /chat/<room>/."""
    return render(request, "chat/room.html", {"room": room})
