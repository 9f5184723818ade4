"""Serving virtual devices on TCP ports, for a real adb server to `adb connect` to."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path

from mpkit.vdevice.device import VirtualDevice
from mpkit.vdevice.transport import Transport


@dataclass
class Running:
    device: VirtualDevice
    port: int
    server: asyncio.base_events.Server
    transports: set = field(default_factory=set)


class DeviceHost:
    """Runs devices on a background event loop; `start(n)` binds 127.0.0.1:<free port> each."""

    def __init__(self, root: Path):
        self.root = root
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.devices: list[Running] = []

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def start(self, count: int = 1, port: int = 0) -> list[Running]:
        return [self._call(self._start_one(port if count == 1 else 0)) for _ in range(count)]

    async def _start_one(self, port: int) -> Running:
        holder: dict = {}

        async def accept(reader, writer):
            run = holder["running"]
            transport = Transport(reader, writer, run.device.banner(), run.device.open_service,
                                  authorized=not run.device.faults.unauthorized)
            run.transports.add(transport)
            try:
                await transport.run()
            except asyncio.CancelledError:
                pass  # the link was dropped on purpose (fault injection) or the host stopped
            finally:
                run.transports.discard(transport)

        server = await asyncio.start_server(accept, "127.0.0.1", port)
        bound = server.sockets[0].getsockname()[1]
        device = VirtualDevice(self.root / f"vdev-{bound}", serial=f"127.0.0.1:{bound}")
        running = Running(device, bound, server)
        holder["running"] = running

        async def drop_all():
            for t in list(running.transports):
                await t.drop()

        device.on_drop.append(drop_all)
        self.devices.append(running)
        return running

    def stop(self) -> None:
        async def close():
            for run in self.devices:
                run.server.close()
                for t in list(run.transports):
                    await t.drop()
        if self.loop.is_running():
            self._call(close())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
