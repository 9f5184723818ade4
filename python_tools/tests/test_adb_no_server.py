"""Asking an address where no adb server listens is a clean NoDevice, and never starts a server
(adbutils would run `adb start-server`, which then claims the user's USB phones)."""

import time

import pytest

from mpkit.device import adb as device_lib
from mpkit.device.errors import NoDevice


def test_no_server_is_no_device_and_starts_none(monkeypatch, free_port, listening):
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(free_port))  # where a server would start
    with pytest.raises(NoDevice, match="no adb server at 127.0.0.1:9"):
        device_lib.connect(None, "127.0.0.1:9")
    with pytest.raises(NoDevice, match="no adb server"):
        device_lib.list_devices()
    time.sleep(1)
    assert not listening(free_port)
