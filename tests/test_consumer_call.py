"""call_consumer: one rule for "is this consumer async?", for workers and
class-based consumers alike."""

import asyncio
import functools
import threading

from channels.consumer_call import call_consumer, is_async_callable


def plain(message, **kwargs):
    return ("plain", threading.current_thread().name, message, kwargs)


async def coroutine(message, **kwargs):
    asyncio.get_running_loop()  # raises unless run inside an event loop
    return ("async", message, kwargs)


class AsyncCallable:
    async def __call__(self, message, **kwargs):
        asyncio.get_running_loop()
        return ("async object", message, kwargs)


class Handlers:
    def sync_method(self, message):
        return ("sync method", message)

    async def async_method(self, message):
        asyncio.get_running_loop()
        return ("async method", message)


class ClassConsumer:
    def __init__(self, message, **kwargs):
        self.message = message
        self.kwargs = kwargs


def test_what_counts_as_async():
    handlers = Handlers()
    assert is_async_callable(coroutine)
    assert is_async_callable(AsyncCallable())
    assert is_async_callable(handlers.async_method)
    assert is_async_callable(functools.partial(coroutine, "m"))
    assert not is_async_callable(plain)
    assert not is_async_callable(handlers.sync_method)
    assert not is_async_callable(ClassConsumer)
    assert not is_async_callable(functools.partial(plain, "m"))


def test_sync_consumers_run_in_the_calling_thread():
    result = call_consumer(plain, "m", room="a")
    assert result == ("plain", threading.current_thread().name, "m", {"room": "a"})


def test_async_consumers_run_to_completion_with_their_result():
    assert call_consumer(coroutine, "m", room="a") == ("async", "m", {"room": "a"})
    assert call_consumer(AsyncCallable(), "m") == ("async object", "m", {})
    assert call_consumer(Handlers().async_method, "m") == ("async method", "m")


def test_a_class_consumer_is_instantiated():
    made = call_consumer(ClassConsumer, "m", room="a")
    assert isinstance(made, ClassConsumer)
    assert (made.message, made.kwargs) == ("m", {"room": "a"})
