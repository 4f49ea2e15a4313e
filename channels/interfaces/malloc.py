"""Have the C allocator give large freed buffers back to the system at once.

glibc serves an allocation of 128 KiB or more with its own ``mmap`` (unmapped
when freed), but raises that threshold to the size of every such block
freed, up to 32 MiB: after the first large WebSocket message, the next ones
come from the heap, which keeps their memory once they are freed. An
interface server's large buffers (messages, bodies, send buffers) are
driven by clients and short-lived, so ``runwsserver`` fixes the threshold:
its resident memory then falls back once a burst or an attack is over
(docs/security.rst, "WebSocket limits"). Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import logging

logger = logging.getLogger("channels.interfaces")

#: mallopt's parameter number for the mmap threshold (glibc's malloc.h).
M_MMAP_THRESHOLD = -3
#: glibc's own initial threshold, kept from then on.
MMAP_THRESHOLD = 128 * 1024


def return_large_buffers_to_the_system() -> bool:
    """Fix glibc's mmap threshold at 128 KiB; whether it could be set."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    logger.debug("mmap threshold fixed at %d bytes: %s", MMAP_THRESHOLD, done)
    return done
