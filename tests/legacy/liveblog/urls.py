"""HTTP side of the liveblog project."""

from django.urls import re_path

from .posts.views import liveblog, wait_for_post

urlpatterns = [
    re_path(r"^liveblog/(?P<slug>[^/]+)/$", liveblog),
    re_path(r"^liveblog/(?P<slug>[^/]+)/next/$", wait_for_post),
]
