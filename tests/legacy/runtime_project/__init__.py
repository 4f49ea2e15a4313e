"""A Channels 1.x-style project for the runtime compatibility tests.

Settings come from the environment so one project covers every case:

``CHANNELS_TEST_SQLITE``  the database file (as every test project:
``CHANNELS_TEST_BACKEND`` tests/projects/base_settings.py): memory, database,
``CHANNELS_TEST_REDIS``   redis or none (default database); Redis URL and
``CHANNELS_TEST_PREFIX``  key prefix (redis backend)
``RUNTIME_LAYERS``        "1": configure the 1.x CHANNEL_LAYERS setting instead
                          of CHANNEL_BACKENDS
``RUNTIME_STATICFILES``   "first": django.contrib.staticfiles before channels
                          (a default startproject); "last": after it; unset: absent
``RUNTIME_DEBUG``         "1": DEBUG on
``RUNTIME_ROUTING``       which list of routing.py (default channel_routing)
``RUNTIME_DELAY``         "1": channels.delay installed
"""
