"""The blog page, and a long poll that answers with the next post."""

from django.shortcuts import get_object_or_404, render

from channels import Group
from channels.handler import AsgiRequest

from .models import Liveblog


def liveblog(request, slug):
    blog = get_object_or_404(Liveblog, slug=slug)
    return render(
        request, "posts/liveblog.html", {"liveblog": blog, "posts": blog.posts.order_by("-id")}
    )


def wait_for_post(request, slug):
    """Answer later: signals.send_post replies on this request's channel."""
    blog = get_object_or_404(Liveblog, slug=slug)
    Group(blog.waiters_group_name).add(request.reply_channel)
    raise AsgiRequest.ResponseLater()
