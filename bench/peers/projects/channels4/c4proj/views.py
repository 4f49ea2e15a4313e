"""The hello-world view (a plain sync Django view, as a project would write)."""

from django.http import HttpResponse


def hello(request):
    return HttpResponse(b"Hello, world!", content_type="text/plain")
