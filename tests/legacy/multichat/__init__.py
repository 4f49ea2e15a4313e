"""A multiplexed chat written the Channels 1.x way: one WebSocket per page,
demultiplexed (``WebsocketDemultiplexer``) into JSON streams handled by
``JsonWebsocketConsumer`` classes; rooms are Groups; users log in over HTTP
and the login reaches the socket through ``channel_session_user_from_http``."""
