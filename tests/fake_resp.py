"""Small local RESP servers for the multiplexer's tests: a scripted fake (AUTH checks, silence,
hang-ups, garbage) and a recording proxy in front of the real Redis that counts what was sent."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

import hiredis

CLOSE = b"<close>"  # an answer that hangs up instead of replying

Answer = Callable[[list[bytes]], bytes | None]  # None: never answer


def pong(command: list[bytes]) -> bytes | None:
    return b"+OK\r\n" if command[0].upper() in (b"AUTH", b"SELECT") else b"+PONG\r\n"


class FakeResp:
    def __init__(self, answer: Answer = pong) -> None:
        self.answer = answer
        self.commands: list[list[bytes]] = []
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self, tls: ssl.SSLContext | None = None) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls)
        return int(self._server.sockets[0].getsockname()[1])

    def send(self, raw: bytes) -> None:
        """Write to the latest connection outside the answer function (a late reply)."""
        self._writers[-1].write(raw)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        parser = hiredis.Reader()
        while data := await reader.read(65536):
            parser.feed(data)
            while (command := parser.gets()) is not False:
                self.commands.append(command)
                reply = self.answer(command)
                if reply == CLOSE:
                    writer.close()
                    return
                if reply:
                    writer.write(reply)
        writer.close()

    async def close(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class RecordingProxy:
    """Forwards to a real Redis and records every command sent to it, on the wire."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._parser = hiredis.Reader()
        self.commands: list[list[bytes]] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def count(self, *name: str) -> int:
        wanted = [part.upper().encode() for part in name]
        return sum(1 for c in self.commands if [p.upper() for p in c[: len(wanted)]] == wanted)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers += [writer, up_writer]
        parser = hiredis.Reader()  # one per connection: commands never interleave mid-frame

        def record(data: bytes) -> None:
            parser.feed(data)
            while (command := parser.gets()) is not False:
                self.commands.append(command)

        down = asyncio.create_task(_pump(up_reader, writer))
        self._tasks.add(down)
        await _pump(reader, up_writer, record)
        await down

    async def close(self) -> None:
        for writer in self._writers:
            writer.close()
        for task in self._tasks:
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: Callable[[bytes], None] | None = None
) -> None:
    try:
        while data := await reader.read(65536):
            if record is not None:
                record(data)
            writer.write(data)
    except ConnectionError:
        pass
    finally:
        writer.close()
