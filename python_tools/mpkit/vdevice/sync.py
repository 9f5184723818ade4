"""The sync service (push, pull, stat, list) over a virtual device's folder."""

from __future__ import annotations

import os
import struct

from mpkit.vdevice.transport import Stream

CHUNK = 64 * 1024
SYNC_DATA_MAX = 64 * 1024  # adb's largest sync DATA block
MAX_PATH = 1024  # adb's limit on a sync request's path
STAT_V1 = struct.Struct("<4s3I")
STAT_V2 = struct.Struct("<4sIQQIIIIQqqq")
DENT = struct.Struct("<4s4I")
ENOENT = 2


class SyncService:
    """`files.resolve(device_path)` maps a device path into the device's folder (or None);
    `files.check_space(n)` raises OSError when n more bytes do not fit;
    `files.check_transfer(n)` is awaited as pushed bytes arrive (fault injection)."""

    def __init__(self, files):
        self.files = files

    async def __call__(self, stream: Stream) -> None:
        try:
            await self._serve(stream)
        except SyncFailed:
            pass  # as adbd, a FAIL ends the sync service

    async def _serve(self, stream: Stream) -> None:
        while True:
            head = await stream.read_exactly(8)
            request, length = head[:4], struct.unpack("<I", head[4:])[0]
            if length > MAX_PATH:
                await _fail(stream, f"sync path of {length} bytes; the maximum is {MAX_PATH}")
            arg = (await stream.read_exactly(length)).decode(errors="replace") if length else ""
            if request == b"QUIT":
                return
            handler = {b"STAT": self._stat, b"STA2": self._stat2, b"LST2": self._stat2,
                       b"LIST": self._list, b"SEND": self._send, b"RECV": self._recv}.get(request)
            if handler is None:
                await _fail(stream, f"unknown sync request {request!r}")
            await handler(stream, arg, request)

    async def _stat(self, stream: Stream, path: str, _req: bytes) -> None:
        local = self.files.resolve(path)
        if local is None or not local.exists():
            await stream.write(STAT_V1.pack(b"STAT", 0, 0, 0))
            return
        st = local.stat()
        await stream.write(STAT_V1.pack(b"STAT", st.st_mode, st.st_size, int(st.st_mtime)))

    async def _stat2(self, stream: Stream, path: str, request: bytes) -> None:
        local = self.files.resolve(path)
        if local is None or not local.exists():
            await stream.write(STAT_V2.pack(request, ENOENT, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
            return
        st = local.stat()
        await stream.write(STAT_V2.pack(request, 0, 0, st.st_ino, st.st_mode, st.st_nlink, 0, 0,
                                        st.st_size, int(st.st_atime), int(st.st_mtime),
                                        int(st.st_ctime)))

    async def _list(self, stream: Stream, path: str, _req: bytes) -> None:
        local = self.files.resolve(path)
        if local is not None and local.is_dir():
            for entry in sorted(local.iterdir()):
                st = entry.stat()
                name = entry.name.encode()
                await stream.write(DENT.pack(b"DENT", st.st_mode, st.st_size, int(st.st_mtime),
                                             len(name)) + name)
        await stream.write(b"DONE" + bytes(16))

    async def _send(self, stream: Stream, arg: str, _req: bytes) -> None:
        """Streams the pushed file into a partial file beside its target, chunk by chunk (as
        adbd does, nothing is held in memory), and renames it once DONE arrives."""
        path, _, mode = arg.rpartition(",")
        local = self.files.resolve(path)
        failure, out, tmp, done = None, None, None, False
        if local is None:
            failure = f"{path}: Permission denied"
        else:
            try:
                local.parent.mkdir(parents=True, exist_ok=True)
                tmp = local.with_name(f".{local.name}.partial")
                out = open(tmp, "wb")
            except OSError as e:
                failure = f"{path}: {e.strerror or e}"
        try:
            received = 0
            while True:
                kind = await stream.read_exactly(4)
                size = struct.unpack("<I", await stream.read_exactly(4))[0]
                if kind == b"DONE":
                    mtime = size
                    break
                if kind != b"DATA":
                    await _fail(stream, f"unexpected {kind!r} in SEND")
                if size > SYNC_DATA_MAX:
                    await _fail(stream, f"sync DATA of {size} bytes; the maximum is "
                                        f"{SYNC_DATA_MAX}")
                block = await stream.read_exactly(size)
                received += size
                await self.files.check_transfer(received)
                if failure is None:
                    try:
                        self.files.check_space(size)
                        out.write(block)
                    except OSError as e:
                        failure = f"{path}: {e.strerror or e}"
            if failure is None:
                try:
                    out.close()
                    os.chmod(tmp, int(mode or "644") & 0o777 or 0o644)
                    os.replace(tmp, local)
                    os.utime(local, (mtime, mtime))
                    done = True
                except OSError as e:
                    failure = f"{path}: {e.strerror or e}"
        finally:
            if out is not None:
                out.close()
            if tmp is not None and not done:
                tmp.unlink(missing_ok=True)
        if failure:
            await _fail(stream, failure)
        else:
            await stream.write(b"OKAY" + bytes(4))

    async def _recv(self, stream: Stream, path: str, _req: bytes) -> None:
        local = self.files.resolve(path)
        if local is None or not local.is_file():
            await _fail(stream, f"remote object '{path}' does not exist")
        with open(local, "rb") as f:
            while block := f.read(CHUNK):
                await stream.write(b"DATA" + struct.pack("<I", len(block)) + block)
        await stream.write(b"DONE" + bytes(4))


class SyncFailed(Exception):
    pass


async def _fail(stream: Stream, message: str) -> None:
    """Sends FAIL and ends the service."""
    data = message.encode()
    await stream.write(b"FAIL" + struct.pack("<I", len(data)) + data)
    raise SyncFailed(message)
