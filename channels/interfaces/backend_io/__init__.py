"""The interface server's path to and from the channel backend.

Backend calls block; the reactor thread never makes one. Three parts carry
every message between the reactor and the backend (docs/architecture.rst,
"The path of one message"):

* :mod:`.send_queue` (reactor thread): one :class:`~.send_queue.SendQueue`
  per connection keeps that connection's messages in order, encodes each
  once, retries a full channel and pauses the socket meanwhile;
* :mod:`.sender_thread`: the one thread that sends what all the queues
  hand it, in batches (:class:`~.sender_thread.BatchSender`);
* :mod:`.inbox_thread`: the one thread that receives every reply of the
  process from its inbox and hands them to the reactor in batches
  (:class:`~.inbox_thread.InboxReader`).
"""
