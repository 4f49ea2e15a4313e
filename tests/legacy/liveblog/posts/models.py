"""A liveblog and its posts (the 1.x liveblog example's models)."""

from django.db import models


class Liveblog(models.Model):
    title = models.CharField(max_length=255)
    slug = models.SlugField(unique=True)

    @property
    def group_name(self):
        """The Group of this blog's WebSocket readers."""
        return f"liveblog-{self.id}"

    @property
    def waiters_group_name(self):
        """The Group of HTTP requests waiting for this blog's next post."""
        return f"liveblog-{self.id}-waiters"


class Post(models.Model):
    liveblog = models.ForeignKey(Liveblog, related_name="posts", on_delete=models.CASCADE)
    body = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    def notification(self):
        return {"id": self.id, "body": self.body, "created": self.created.isoformat()}
