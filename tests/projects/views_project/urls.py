from django.urls import path

from . import views

urlpatterns = [
    path("hello/", views.hello),
    path("echo-get/", views.echo_get),
    path("form/", views.form),
    path("upload/", views.upload),
    path("stream/", views.stream),
    path("file/", views.file),
    path("boom/", views.boom),
    path("meta/", views.meta),
]
