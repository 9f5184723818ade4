"""One adb connection from the host's adb server: handshake, streams, flow control.

The device answers CNXN directly (no AUTH, as adbd with auth disabled), accepts OPENs for the
services it implements, acknowledges every host WRTE with OKAY, and sends its own WRTEs one at a
time, each chunked to the negotiated maximum and waiting for the host's OKAY.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable

from mpkit.vdevice.protocol import (
    A_AUTH, A_CLSE, A_CNXN, A_OKAY, A_OPEN, A_WRTE, HEADER, MAX_PAYLOAD, VERSION, Message,
    parse_header,
)

AUTH_TOKEN, AUTH_SIGNATURE = 1, 2


class StreamClosed(Exception):
    pass


class Stream:
    def __init__(self, transport: Transport, local_id: int, remote_id: int):
        self.transport, self.local_id, self.remote_id = transport, local_id, remote_id
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._buffer = b""
        self._okay = asyncio.Event()
        self.closed = False

    # host → device
    def deliver(self, data: bytes) -> None:
        self._inbox.put_nowait(data)

    def acknowledge(self) -> None:
        self._okay.set()

    def remote_closed(self) -> None:
        self.closed = True
        self._inbox.put_nowait(None)
        self._okay.set()

    async def read(self) -> bytes:
        """The next chunk the host wrote; b"" when the host closed the stream."""
        if self._buffer:
            data, self._buffer = self._buffer, b""
            return data
        data = await self._inbox.get()
        return data or b""

    async def read_exactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            data = await self._inbox.get()
            if data is None:
                raise StreamClosed(f"stream closed with {len(self._buffer)} of {n} bytes")
            self._buffer += data
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    # device → host
    async def write(self, data: bytes) -> None:
        step = self.transport.max_data
        for start in range(0, len(data), step):
            if self.closed:
                raise StreamClosed("host closed the stream")
            self._okay.clear()
            await self.transport.send(Message(A_WRTE, self.local_id, self.remote_id,
                                              data[start : start + step]))
            await self._okay.wait()

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.transport.send(Message(A_CLSE, self.local_id, self.remote_id))
        self.transport.streams.pop(self.local_id, None)


Service = Callable[[Stream], Awaitable[None]]


class Transport:
    """Serves one TCP connection. `open_service(name)` returns a coroutine function for a
    service name, or None to refuse it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, banner: bytes,
                 open_service: Callable[[str], Service | None], authorized: bool = True):
        self.reader, self.writer, self.banner = reader, writer, banner
        self.open_service, self.authorized = open_service, authorized
        self.max_data = MAX_PAYLOAD
        self.streams: dict[int, Stream] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()

    async def send(self, message: Message) -> None:
        async with self._lock:
            self.writer.write(message.pack())
            await self.writer.drain()

    async def run(self) -> None:
        try:
            while True:
                header = await self.reader.readexactly(HEADER.size)
                command, arg0, arg1, length = parse_header(header)
                data = await self.reader.readexactly(length) if length else b""
                await self._handle(command, arg0, arg1, data)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            await self.drop()

    async def drop(self) -> None:
        """Ends the connection (also how a dropped USB link looks to the host)."""
        for stream in list(self.streams.values()):
            stream.remote_closed()
        for task in self._tasks:
            task.cancel()
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()

    async def _handle(self, command: int, arg0: int, arg1: int, data: bytes) -> None:
        if command == A_CNXN:
            self.max_data = min(arg1 or MAX_PAYLOAD, MAX_PAYLOAD)
            if not self.authorized:
                await self.send(Message(A_AUTH, AUTH_TOKEN, 0, b"\0" * 20))
                return
            await self.send(Message(A_CNXN, VERSION, MAX_PAYLOAD, self.banner))
        elif command == A_AUTH:
            # An unauthorized device rejects every signature; the host then offers its public
            # key, and the device waits for a user who never accepts (state "unauthorized").
            if arg0 == AUTH_SIGNATURE:
                await self.send(Message(A_AUTH, AUTH_TOKEN, 0, b"\0" * 20))
        elif command == A_OPEN:
            service = self.open_service(data.rstrip(b"\0").decode(errors="replace"))
            if service is None:
                await self.send(Message(A_CLSE, 0, arg0))
                return
            stream = Stream(self, next(self._ids), arg0)
            self.streams[stream.local_id] = stream
            await self.send(Message(A_OKAY, stream.local_id, arg0))
            task = asyncio.create_task(self._serve(service, stream))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif command == A_OKAY:
            if (stream := self.streams.get(arg1)) is not None:
                stream.acknowledge()
        elif command == A_WRTE:
            if (stream := self.streams.get(arg1)) is not None:
                stream.deliver(data)
                await self.send(Message(A_OKAY, arg1, arg0))
        elif command == A_CLSE:
            if (stream := self.streams.pop(arg1, None)) is not None:
                stream.remote_closed()

    async def _serve(self, service: Service, stream: Stream) -> None:
        try:
            await service(stream)
        except StreamClosed:
            pass
        finally:
            with contextlib.suppress(Exception):
                await stream.close()
