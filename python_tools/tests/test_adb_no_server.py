"""Asking an address where no adb server listens is a clean NoDevice, and never starts a server
(adbutils would run `adb start-server`, which then claims the user's USB phones)."""

import socket
import time

import pytest

from mpkit.device import adb as device_lib
from mpkit.device.errors import NoDevice


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_no_server_is_no_device_and_starts_none(monkeypatch):
    default = _free_port()  # where a started adb server would listen
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(default))
    with pytest.raises(NoDevice, match="no adb server at 127.0.0.1:"):
        device_lib.connect(None, f"127.0.0.1:{_free_port()}")
    with pytest.raises(NoDevice, match="no adb server"):
        device_lib.list_devices()
    time.sleep(1)
    assert not _listening(default)
