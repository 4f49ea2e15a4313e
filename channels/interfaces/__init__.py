"""Interface servers: they hold client connections and never run project code.

``channels.interfaces.server`` is the Twisted + Autobahn server behind
``manage.py runwsserver``; it turns HTTP requests and WebSocket events into
messages on a channel backend and delivers the replies workers send back.
"""
