"""Device tests: run against `--serial S` (on the adb server `--adb-server HOST:PORT`, a phone or
a virtual device from `mpkit vdevice start`), or (default) against virtual devices this fixture
starts behind a private real adb server, once per adb binary. Tests that inject faults into a
virtual device are marked `virtual_only` and skip with --serial, saying so."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mpkit.device import adb as device_lib
from mpkit.vdevice.control import bundled_adb
from mpkit.vdevice.daemon import Fleet

DEBIAN_ADB = "/usr/bin/adb"
VIRTUAL_ONLY = ("virtual-only: injects faults into (or starts) virtual devices of this test's "
                "own fleet, which a device given with --serial cannot do")


def pytest_addoption(parser):
    parser.addoption("--serial", help="run against this device instead of a private fleet")
    parser.addoption("--adb-server", help="HOST:PORT of the adb server for --serial")
    parser.addoption("--apk", help="the benchmark app to install with --serial on a phone")
    parser.addoption("--bundle", help="an exported mp-tiny TFLite bundle to use instead of "
                     "exporting one (minutes)")


def pytest_configure(config):
    config.addinivalue_line("markers", f"virtual_only: {VIRTUAL_ONLY}")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--serial"):
        skip = pytest.mark.skip(reason=VIRTUAL_ONLY)
        for item in items:
            if "virtual_only" in item.keywords:
                item.add_marker(skip)


def _binaries():
    found = [("adbutils-adb", bundled_adb())]
    if shutil.which(DEBIAN_ADB):
        found.append(("debian-adb", DEBIAN_ADB))
    return found


def pytest_generate_tests(metafunc):
    # Without --serial every test runs once per adb binary against its own fleet.
    if "fleet" in metafunc.fixturenames and not metafunc.config.getoption("--serial"):
        metafunc.parametrize("fleet", _binaries(), indirect=True, scope="session",
                             ids=lambda b: b[0])


@pytest.fixture(scope="session")
def fleet(request):
    """Two virtual devices behind a private adb server run by one of the adb binaries; None
    with --serial (the tests that need it are virtual_only and skip)."""
    if request.config.getoption("--serial"):
        yield None
        return
    fleet = Fleet(2, request.param[1])
    yield fleet
    fleet.stop()


@pytest.fixture()
def adb_addr(request, fleet):
    """HOST:PORT of the adb server the tests' device is on."""
    if fleet is None:
        return request.config.getoption("--adb-server")
    return f"127.0.0.1:{fleet.server.port}"


def _connect_virtual(fleet: Fleet, i: int) -> device_lib.Device:
    target = fleet.running[i].device
    target.faults.__init__()
    addr = f"127.0.0.1:{fleet.server.port}"
    states = {d.serial: d.state for d in device_lib.list_devices(addr)}
    if states.get(target.serial) != "device":
        fleet.server.connect(target.serial)
    return device_lib.connect(target.serial, addr)


@pytest.fixture()
def connect_virtual(fleet):
    """Connects virtual device `i` of the fleet with its faults reset, reattaching it to the adb
    server when a previous test dropped its link on purpose."""
    return lambda i: _connect_virtual(fleet, i)


@pytest.fixture()
def device(request, fleet):
    """A connected Device: the --serial one, or the first virtual device (faults reset)."""
    if fleet is None:
        return device_lib.connect(request.config.getoption("--serial"),
                                  request.config.getoption("--adb-server"))
    return _connect_virtual(fleet, 0)


@pytest.fixture()
def vdev(fleet, device):
    """The virtual device behind `device`, for tests that inject faults (virtual_only)."""
    return fleet.device(device.serial)


@pytest.fixture()
def stand_in_apk(tmp_path):
    """What the virtual device installs as the benchmark app."""
    apk = tmp_path / "app.apk"
    apk.write_bytes(b"PK\x03\x04 mpkit bench app stand-in")
    return apk


@pytest.fixture(scope="session")
def bundle(request, fp32_bundle):
    """A real exported bundle (mp-tiny, TFLite fp32) for benchmark tests."""

    from mpkit.export.bundle import verify

    if given := request.config.getoption("--bundle"):
        manifest = verify(Path(given))
        assert (manifest.model_id, manifest.backend) == ("mp-tiny", "tflite"), given
        return Path(given)
    return fp32_bundle("tflite").out


@pytest.fixture(scope="session")
def audio_bundle(tmp_path_factory):
    """mp-tiny's TFLite fp32 bundle with its audio component (validated on the CPU path only:
    the fp32 `bundle` runs the software GPU's checks)."""
    from mpkit.export.pipeline import export
    from mpkit.models import zoo

    out = tmp_path_factory.mktemp("audio") / "tflite-audio"
    return export("mp-tiny", "tflite", "fp32", out, zoo.default_checkpoint("mp-tiny"),
                  delegates=(), audio=True).out


@pytest.fixture()
def app(request, device, stand_in_apk):
    """The device with the benchmark app installed: the stand-in APK on a virtual device, the
    --apk file on a phone (or the app it already has)."""
    apk = request.config.getoption("--apk")
    if apk:
        device.install(apk)
    elif device.info().virtual:
        device.install(stand_in_apk)
    elif "org.mpkit.bench" not in device.shell(["pm", "list", "packages"]).out:
        pytest.fail("the benchmark app is not on this phone: pass --apk PATH")
    yield device
    device.shell(["am", "force-stop", "org.mpkit.bench"])  # no run outlives its test


@pytest.fixture(scope="session")
def animator_frames():
    """mpkit's own pipeline on a bundle's components (host runtime): the source crop, then one
    generated frame per driving frame; what the app's Kotlin pipeline must reproduce."""
    from mpkit.export.host_pipeline import bundle_animator

    def frames(bundle: Path, photo, driving: list) -> list:
        animator = bundle_animator(bundle)
        avatar = animator.prepare_source(photo, name="photo")
        drive = animator.prepare_driving(avatar, driving[0], name="frames")
        return [avatar.image] + [out for _, out in animator.run(avatar, drive, driving)]

    return frames
