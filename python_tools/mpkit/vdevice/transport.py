"""One adb connection from the host's adb server: handshake, streams, flow control.

As adbd with auth required: CNXN is answered with an AUTH token, and the device goes online
(answers CNXN) only after a signature by one of the keys it trusts; before that every other
packet is ignored, and an offered public key (RSAPUBLICKEY) waits for a user who is not there,
so adb shows the device "unauthorized". Packets over MAX_PAYLOAD end the connection. Online, it
accepts OPENs for the services it implements, acknowledges a host WRTE with OKAY once the service
has taken its data (so a stream holds at most one unread packet), and sends its own WRTEs one at
a time, each chunked to the negotiated maximum and waiting for the host's OKAY.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import Awaitable, Callable

from mpkit.vdevice import auth
from mpkit.vdevice.protocol import (
    A_AUTH, A_CLSE, A_CNXN, A_OKAY, A_OPEN, A_WRTE, HEADER, MAX_PAYLOAD, VERSION, Message,
    parse_header,
)

AUTH_TOKEN, AUTH_SIGNATURE, AUTH_RSAPUBLICKEY = 1, 2, 3


class StreamClosed(Exception):
    pass


class Stream:
    def __init__(self, transport: Transport, local_id: int, remote_id: int):
        self.transport, self.local_id, self.remote_id = transport, local_id, remote_id
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=1)
        self._buffer = b""
        self._okay = asyncio.Event()
        self.closed = False

    # host → device
    def deliver(self, data: bytes) -> None:
        """Raises asyncio.QueueFull when the host writes again before its OKAY (flow control)."""
        self._inbox.put_nowait(data)

    async def _take(self) -> bytes | None:
        if self.closed and self._inbox.empty():
            return None
        data = await self._inbox.get()
        if data is not None and not self.closed:
            await self.transport.send(Message(A_OKAY, self.local_id, self.remote_id))
        return data

    def acknowledge(self) -> None:
        self._okay.set()

    def remote_closed(self) -> None:
        self.closed = True
        with contextlib.suppress(asyncio.QueueFull):  # a pending packet ends the read anyway
            self._inbox.put_nowait(None)
        self._okay.set()

    async def read(self) -> bytes:
        """The next chunk the host wrote; b"" when the host closed the stream."""
        if self._buffer:
            data, self._buffer = self._buffer, b""
            return data
        return await self._take() or b""

    async def read_exactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            data = await self._take()
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
    service name, or None to refuse it; `trusted()` the public keys the device trusts now."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, banner: bytes,
                 open_service: Callable[[str], Service | None],
                 trusted: Callable[[], list[auth.PublicKey]]):
        self.reader, self.writer, self.banner = reader, writer, banner
        self.open_service, self.trusted = open_service, trusted
        self.max_data = MAX_PAYLOAD
        self.online = False
        self._token: bytes | None = None
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
                if length > MAX_PAYLOAD:
                    return  # adbd drops a connection that announces an oversized packet
                data = await self.reader.readexactly(length) if length else b""
                await self._handle(command, arg0, arg1, data)
        except (asyncio.IncompleteReadError, asyncio.QueueFull, ConnectionError, ValueError):
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

    async def _request_auth(self) -> None:
        self._token = os.urandom(auth.TOKEN_SIZE)
        await self.send(Message(A_AUTH, AUTH_TOKEN, 0, self._token))

    async def _handle(self, command: int, arg0: int, arg1: int, data: bytes) -> None:
        if command == A_CNXN:
            self.max_data = min(arg1 or MAX_PAYLOAD, MAX_PAYLOAD)
            self.online = False
            await self._request_auth()
        elif command == A_AUTH:
            if arg0 == AUTH_SIGNATURE and self._token is not None and not self.online:
                token, self._token = self._token, None  # one signature per token
                if any(auth.verify(key, token, data) for key in self.trusted()):
                    self.online = True
                    await self.send(Message(A_CNXN, VERSION, MAX_PAYLOAD, self.banner))
                else:
                    await self._request_auth()
            # AUTH_RSAPUBLICKEY: a phone would ask its user to trust the key; nobody is there.
        elif not self.online:
            return  # adbd ignores everything else until the host is authenticated
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
                stream.deliver(data)  # acknowledged when the service reads it
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
