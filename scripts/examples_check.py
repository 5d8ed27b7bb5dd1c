#!/usr/bin/env python3
"""Checks the broadcast example: two clients each receive what the other sends, and the ticks
another thread broadcasts.

Usage: examples_check.py broadcast ws://HOST:PORT/
"""
import asyncio
import sys

from websockets.asyncio.client import connect

TIMEOUT = 10


async def broadcast(url: str) -> None:
    async with connect(url, open_timeout=TIMEOUT) as a, connect(url, open_timeout=TIMEOUT) as b:
        await a.send("hello from a")
        for client, name in ((a, "a"), (b, "b")):
            while True:
                message = await asyncio.wait_for(client.recv(), TIMEOUT)
                if message == "hello from a":
                    break
                assert message.startswith("tick "), f"{name} got {message!r}"
        tick = await asyncio.wait_for(b.recv(), TIMEOUT)
        assert tick.startswith("tick "), f"b got {tick!r}, not a tick"
    print("broadcast: both clients got the message and the ticks")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "broadcast":
        sys.exit(__doc__)
    asyncio.run(broadcast(sys.argv[2]))
