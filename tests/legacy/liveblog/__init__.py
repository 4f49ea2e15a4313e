"""A live blog written the Channels 1.x way: readers open a WebSocket per
blog and join its Group; every save of a post (``post_save``) is pushed to
that Group; the blog page is plain Django over HTTP, and a long-poll URL
answers later through ``ResponseLater``. Nothing routes
``websocket.receive``: what readers type is dropped by the default consumers."""
