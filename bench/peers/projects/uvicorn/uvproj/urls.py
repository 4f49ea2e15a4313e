from django.http import HttpResponse
from django.urls import path


async def hello(request):
    return HttpResponse(b"Hello, world!", content_type="text/plain")


urlpatterns = [path("hello/", hello)]
