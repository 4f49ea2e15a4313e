"""Settings of the chat demo.

Runs on the database channel backend over SQLite out of the box (nothing to
install); set CHANNELS_DEMO_REDIS=redis://127.0.0.1:6379/0 to use Redis.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "chatdemo.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CHANNELS_DEMO_DB", str(BASE_DIR / "db.sqlite3")),
        # Workers and the interface server write to one file: wait for locks.
        "OPTIONS": {"timeout": 20},
    }
}

CHANNEL_BACKENDS = {
    "default": {
        "BACKEND": "channels.backends.database.DatabaseChannelBackend",
        "ROUTING": "chat.routing.channel_routing",
    }
}
if os.environ.get("CHANNELS_DEMO_REDIS"):
    CHANNEL_BACKENDS["default"] = {
        "BACKEND": "channels.backends.redis.RedisChannelBackend",
        "HOSTS": [os.environ["CHANNELS_DEMO_REDIS"]],
        "ROUTING": "chat.routing.channel_routing",
    }

USE_TZ = True
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
TIME_ZONE = "UTC"
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
