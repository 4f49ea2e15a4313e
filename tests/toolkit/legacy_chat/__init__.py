"""A chat app written for the Channels 1.x consumer API, unchanged: login,
rooms, and a JSON multiplexer. ``tests/toolkit/test_legacy_chat.py`` is its
test suite, also written as a 1.x project would have written it."""
