"""Serving virtual devices on TCP ports, for a real adb server to `adb connect` to."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path

from mpkit.vdevice import auth
from mpkit.vdevice.device import VirtualDevice
from mpkit.vdevice.transport import Transport


@dataclass
class Running:
    device: VirtualDevice
    port: int
    server: asyncio.base_events.Server
    transports: set = field(default_factory=set)


class DeviceHost:
    """Runs devices on a background event loop; `start(n)` binds 127.0.0.1:<free port> each.
    Devices trust `trusted_keys` (default: the user's adb key) and those added by `trust`."""

    def __init__(self, root: Path, trusted_keys: list[auth.PublicKey] | None = None):
        self.root = root
        self.trusted_keys = auth.user_keys() if trusted_keys is None else trusted_keys
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.devices: list[Running] = []

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def trust(self, keys: list[auth.PublicKey]) -> None:
        """Adds keys to every device, running and future (an adb host the user accepted)."""
        self.trusted_keys = [*self.trusted_keys, *keys]
        for run in self.devices:
            run.device.trusted_keys = [*run.device.trusted_keys, *keys]

    def start(self, count: int = 1, port: int = 0) -> list[Running]:
        return [self._call(self._start_one(port if count == 1 else 0)) for _ in range(count)]

    async def _start_one(self, port: int) -> Running:
        holder: dict = {}

        async def accept(reader, writer):
            run = holder["running"]
            transport = Transport(reader, writer, run.device.banner(), run.device.open_service,
                                  trusted=lambda: run.device.trusted_keys)
            run.transports.add(transport)
            try:
                await transport.run()
            except asyncio.CancelledError:
                pass  # the link was dropped on purpose (fault injection) or the host stopped
            finally:
                run.transports.discard(transport)

        server = await asyncio.start_server(accept, "127.0.0.1", port)
        bound = server.sockets[0].getsockname()[1]
        device = VirtualDevice(self.root / f"vdev-{bound}", serial=f"127.0.0.1:{bound}",
                               trusted_keys=list(self.trusted_keys))
        running = Running(device, bound, server)
        holder["running"] = running

        async def drop_all():
            for t in list(running.transports):
                await t.drop()

        device.on_drop.append(drop_all)
        self.devices.append(running)
        return running

    def stop(self) -> None:
        for run in self.devices:
            run.device.stop_workers()

        async def close():
            for run in self.devices:
                run.server.close()
                for t in list(run.transports):
                    await t.drop()
        if self.loop.is_running():
            self._call(close())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
