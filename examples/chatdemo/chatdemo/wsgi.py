"""WSGI entry point: requests go to the workers through the channel backend."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatdemo.settings")

from channels.interfaces.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
