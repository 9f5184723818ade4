"""Device tests: run against `--serial S` on any adb server, or (default) against virtual
devices this fixture starts behind a private real adb server, once per adb binary."""

from __future__ import annotations

import shutil

import pytest

from mpkit.device import adb as device_lib
from mpkit.vdevice.control import bundled_adb
from mpkit.vdevice.daemon import Fleet

DEBIAN_ADB = "/usr/bin/adb"


def pytest_addoption(parser):
    parser.addoption("--serial", help="run against this real device instead of virtual ones")
    parser.addoption("--adb-server", help="HOST:PORT of the adb server for --serial")


def _binaries():
    found = [("adbutils-adb", bundled_adb())]
    if shutil.which(DEBIAN_ADB):
        found.append(("debian-adb", DEBIAN_ADB))
    return found


@pytest.fixture(scope="session", params=_binaries(), ids=lambda b: b[0])
def fleet(request):
    """Two virtual devices behind a private adb server run by one of the adb binaries."""
    if request.config.getoption("--serial"):
        pytest.skip("a real device was given with --serial")
    fleet = Fleet(2, request.param[1])
    yield fleet
    fleet.stop()


@pytest.fixture()
def adb_addr(fleet):
    return f"127.0.0.1:{fleet.server.port}"


@pytest.fixture()
def connect_virtual(fleet):
    """Connects virtual device `i` of the fleet with its faults reset, reattaching it to the adb
    server when a previous test dropped its link on purpose."""

    def connect(i: int) -> device_lib.Device:
        target = fleet.running[i].device
        target.faults.__init__()
        addr = f"127.0.0.1:{fleet.server.port}"
        states = {d.serial: d.state for d in device_lib.list_devices(addr)}
        if states.get(target.serial) != "device":
            fleet.server.connect(target.serial)
        return device_lib.connect(target.serial, addr)

    return connect


@pytest.fixture()
def device(request, connect_virtual):
    """A connected Device: the --serial one, or the first virtual device (faults reset)."""
    serial = request.config.getoption("--serial")
    if serial:
        return device_lib.connect(serial, request.config.getoption("--adb-server"))
    return connect_virtual(0)


@pytest.fixture()
def stand_in_apk(tmp_path):
    """What the virtual device installs as the benchmark app."""
    apk = tmp_path / "app.apk"
    apk.write_bytes(b"PK\x03\x04 mpkit bench app stand-in")
    return apk


@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    """A real exported bundle (mp-tiny, TFLite fp32) for benchmark tests."""
    from mpkit.export.pipeline import export
    from mpkit.media import assets
    from mpkit.models import zoo

    assets.fetch()
    return export("mp-tiny", "tflite", "fp32", tmp_path_factory.mktemp("bundle") / "tiny-tflite",
                  zoo.default_checkpoint("mp-tiny")).out


@pytest.fixture()
def app(device, stand_in_apk):
    """The device with the benchmark app installed (a stand-in APK on the virtual device)."""
    device.install(stand_in_apk)
    return device
