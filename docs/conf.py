"""Sphinx configuration of the channels documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "channels"
author = "the channels developers"
copyright = "2026, the channels developers"
release = "0.1.0"

extensions = ["sphinx.ext.autodoc", "sphinx.ext.viewcode"]
autodoc_mock_imports = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
nitpicky = False


def setup(app):
    # autodoc imports the package, which needs configured Django settings.
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                            "django.contrib.sessions", "channels"],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            SECRET_KEY="docs",
        )
        django.setup()
