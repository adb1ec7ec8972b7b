"""Ports for the processes a test or benchmark starts."""

import random
import socket

# Below Linux's ephemeral range (32768-60999 by default): a port the kernel may hand to any
# outgoing connection between our probe and the server's bind would make the bind fail.
_LOW, _HIGH = 20_000, 32_000


def free_port() -> int:
    """A loopback port nobody listens on, outside the range the kernel picks client ports from."""
    for _ in range(200):
        port = random.randrange(_LOW, _HIGH)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between {_LOW} and {_HIGH}")
