"""The demo's pages: a room list and a chat room."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render


def index(request: HttpRequest) -> HttpResponse:
    """Pick a room."""
    if request.GET.get("room"):
        return redirect("room", room=request.GET["room"])
    return render(request, "chat/index.html")


def room(request: HttpRequest, room: str) -> HttpResponse:
    """One chat room; the page opens a WebSocket to /chat/<room>/."""
    return render(request, "chat/room.html", {"room": room})
