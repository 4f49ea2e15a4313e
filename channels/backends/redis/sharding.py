"""Consistent hashing of channel and group names onto Redis servers.

Each server owns ``replicas`` points on a 64-bit ring, placed by hashing its
identity (its address, never its position in ``HOSTS``), and a name belongs
to the first point at or after the name's own hash. Adding a server therefore
moves only the names that fall just before its new points, about
``1 / servers`` of them, and every process that lists the same servers, in
any order, agrees on where each name lives.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence


def hash64(text: str) -> int:
    """A stable 64-bit hash of ``text`` (the same in every process and run)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class HashRing:
    """Maps names to one of ``nodes`` (given by identity strings)."""

    def __init__(self, nodes: Sequence[str], replicas: int = 160) -> None:
        if not nodes:
            raise ValueError("a hash ring needs at least one node")
        if len(set(nodes)) != len(nodes):
            raise ValueError(f"duplicate nodes in {list(nodes)!r}")
        self.nodes = list(nodes)
        points = sorted(
            (hash64(f"{node}#{replica}"), index)
            for index, node in enumerate(self.nodes)
            for replica in range(replicas)
        )
        self._hashes = [point for point, _ in points]
        self._owners = [index for _, index in points]

    def index_for(self, name: str) -> int:
        """The position in ``nodes`` of the node that owns ``name``."""
        if len(self.nodes) == 1:
            return 0
        at = bisect.bisect_left(self._hashes, hash64(name))
        return self._owners[at % len(self._owners)]

    def node_for(self, name: str) -> str:
        """The identity of the node that owns ``name``."""
        return self.nodes[self.index_for(name)]
