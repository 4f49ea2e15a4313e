"""A Channels 1.x data-binding app, written as the 1.x docs show it.

``values`` holds ``IntegerValue`` and its ``IntegerValueBinding``
(docs: Data Binding); ``consumers.Demultiplexer`` ties the binding's stream
into a multiplexed WebSocket at ``/binding/``; ``/`` is a page that loads
``channels/js/websocketbridge.js`` with ``{% static %}``.
"""
