"""A recording proxy in front of the real Redis: counts what the studio sent on the wire (round
trips, SCRIPT LOAD) and can stop passing replies back, to stand for a server that hangs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import hiredis


class RecordingProxy:
    """Forwards to a real Redis and records every command sent to it, on the wire."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._parser = hiredis.Reader()
        self.commands: list[list[bytes]] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._clients: list[asyncio.StreamWriter] = []
        self.port = 0
        self.stalled = False  # True: replies are swallowed, as by a server that hangs

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    def count(self, *name: str) -> int:
        wanted = [part.upper().encode() for part in name]
        return sum(1 for c in self.commands if [p.upper() for p in c[: len(wanted)]] == wanted)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers += [writer, up_writer]
        self._clients.append(writer)
        parser = hiredis.Reader()  # one per connection: commands never interleave mid-frame

        def record(data: bytes) -> None:
            parser.feed(data)
            while (command := parser.gets()) is not False:
                self.commands.append(command)

        down = asyncio.create_task(_pump(up_reader, writer, passes=lambda _: not self.stalled))
        self._tasks.add(down)
        await _pump(reader, up_writer, record)
        await down

    def drop(self) -> None:
        """Hang up on every client, as a failover or a network cut does."""
        for writer in self._clients:
            writer.transport.abort()
        self._clients = []

    async def close(self) -> None:
        for writer in self._writers:
            writer.close()
        for task in self._tasks:
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def _pump(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    record: Callable[[bytes], None] | None = None,
    passes: Callable[[bytes], bool] = lambda _: True,
) -> None:
    try:
        while data := await reader.read(65536):
            if record is not None:
                record(data)
            if passes(data):
                writer.write(data)
    except ConnectionError:
        pass
    finally:
        writer.close()
