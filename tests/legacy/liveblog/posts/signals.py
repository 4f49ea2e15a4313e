"""Every saved post goes to the blog's readers (post_save -> Group.send)."""

import json

from django.db.models.signals import post_save
from django.dispatch import receiver

from channels import Channel, Group, channel_layers

from .models import Post


@receiver(post_save, sender=Post)
def send_post(sender, instance, created, **kwargs):
    notification = json.dumps(instance.notification())
    Group(instance.liveblog.group_name).send({"text": notification})
    # Long-poll requests parked by views.wait_for_post get the post as their
    # response; each is answered once, so it leaves the group first.
    waiters = Group(instance.liveblog.waiters_group_name)
    for reply_channel in channel_layers["default"].group_channels(waiters.name):
        waiters.discard(reply_channel)
        Channel(reply_channel).send(
            {
                "status": 200,
                "headers": [[b"content-type", b"application/json"]],
                "content": notification.encode(),
            }
        )
