"""Each adb operation ends within its timeout in all, against a device that trickles or stalls.
The server here is a minimal adb server on 127.0.0.1 (the virtual device answers promptly)."""

import socket
import struct
import threading
import time

import pytest

from mpkit.device import adb as device_lib
from mpkit.device.errors import DeviceTimeout
from mpkit.errors import UsageError


class StallingServer:
    """Answers the adb host protocol for one device whose shell trickles a byte every 0.2 s
    forever and whose sync service reads a push but never confirms it."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.services: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            try:
                while length := conn.recv(4):
                    request = conn.recv(int(length, 16)).decode()
                    self.services.append(request)
                    if request == "host:version":
                        conn.sendall(b"OKAY0004" + b"0029")
                        return
                    conn.sendall(b"OKAY")
                    if request.startswith("host:tport:"):
                        conn.sendall(struct.pack("<Q", 1))
                    elif request.startswith("shell"):
                        while True:
                            conn.sendall(b"\x01" + struct.pack("<I", 1) + b".")
                            time.sleep(0.2)
                    elif request == "sync:":
                        while conn.recv(65536):
                            pass
            except OSError:
                pass


def _within(seconds, fn):
    """Runs fn in a thread; returns its exception, failing the test if it outlives `seconds`."""
    box = []

    def run():
        try:
            fn()
        except BaseException as e:
            box.append(e)

    t = threading.Thread(target=run, daemon=True)
    start = time.monotonic()
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s"
    return box[0] if box else None, time.monotonic() - start


@pytest.fixture()
def stalling():
    server = StallingServer()
    client = device_lib.client(f"127.0.0.1:{server.port}")
    return server, device_lib.Device(client.device("stall-1"), "stall-1")


def test_a_trickling_shell_times_out_in_total(stalling):
    _, device = stalling
    error, took = _within(15, lambda: device.shell(["cat", "/dev/urandom"], timeout=2))
    assert isinstance(error, DeviceTimeout) and "took longer than 2 s" in str(error)
    assert took < 5


def test_a_stalled_push_times_out_once_not_retried(stalling, tmp_path):
    server, device = stalling
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"x" * 300_000)
    error, took = _within(15, lambda: device.push(blob, "/data/local/tmp/blob.bin", timeout=2))
    assert isinstance(error, DeviceTimeout) and "took longer than 2 s" in str(error)
    assert took < 5 and server.services.count("sync:") == 1


@pytest.mark.parametrize("addr", ["localhost", "host:port", "127.0.0.1:99999"])
def test_a_malformed_adb_address_is_a_usage_error(addr):
    with pytest.raises(UsageError, match="HOST:PORT"):
        device_lib.connect(None, addr)
