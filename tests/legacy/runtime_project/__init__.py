"""A Channels 1.x-style project for the runtime compatibility tests.

Settings come from the environment so one project covers every case:

``RUNTIME_SQLITE``        the database file (required)
``RUNTIME_BACKEND``       memory, database or redis (default database)
``RUNTIME_REDIS``         redis:// URL, with ``RUNTIME_PREFIX`` (redis backend)
``RUNTIME_LAYERS``        "1": configure the 1.x CHANNEL_LAYERS setting instead
                          of CHANNEL_BACKENDS
``RUNTIME_STATICFILES``   "first": django.contrib.staticfiles before channels
                          (a default startproject); "last": after it; unset: absent
``RUNTIME_DEBUG``         "1": DEBUG on
``RUNTIME_ROUTING``       which list of routing.py (default channel_routing)
``RUNTIME_DELAY``         "1": channels.delay installed
"""
