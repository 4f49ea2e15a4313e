"""Settings of the uvicorn + plain Django benchmark peer (HTTP ceiling)."""

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = []
MIDDLEWARE = []
ROOT_URLCONF = "uvproj.urls"
DATABASES = {}
USE_TZ = True
USE_I18N = False
LOGGING_CONFIG = None
