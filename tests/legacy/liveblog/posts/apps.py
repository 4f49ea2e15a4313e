from django.apps import AppConfig


class PostsConfig(AppConfig):
    name = "tests.legacy.liveblog.posts"
    label = "posts"

    def ready(self):
        from . import signals  # noqa: F401 (connects the post_save receiver)
