"""The Device layer against a device driven through a real adb server (a phone or a virtual
device with --serial; tests marked virtual_only inject faults into this run's own fleet)."""

import hashlib
import json
import os
import time

import pytest
from click.testing import CliRunner

from mpkit.cli.main import cli
from mpkit.device import adb as device_lib
from mpkit.device.errors import (
    CommandFailed, DeviceTimeout, LinkLost, MultipleDevices, NoDevice, StorageFull, Unauthorized,
)
from mpkit.vdevice import auth

virtual_only = pytest.mark.virtual_only


def test_info_says_what_the_device_is(device):
    info = device.info()
    assert info.serial == device.serial and info.abi not in ("", "?")
    assert info.virtual is ("virtual" in info.fingerprint)
    assert info.free_storage_mb is not None and info.free_storage_mb > 0


def test_a_virtual_device_invents_no_android_version_or_screen(device):
    if not device.info().virtual:
        pytest.skip("a phone has a real Android version and screen")
    assert device.getprop("ro.build.version.release") == ""
    assert device.getprop("ro.build.version.sdk") == ""
    assert "ro.build.version" not in device.shell(["getprop"]).out
    size = device.shell(["wm", "size"], check=False)
    assert size.rc != 0 and "Physical size" not in size.out and "unknown" in size.err


def test_shell_exit_codes_and_streams(device):
    assert device.shell(["echo", "hello"]).out == "hello\n"
    r = device.shell(["no-such-command"], check=False)
    assert r.rc == 127 and "not found" in r.err
    with pytest.raises(CommandFailed, match="exited 1"):
        device.shell(["false"])


def test_metacharacters_are_quoted_not_executed(device):
    name = "/data/local/tmp/x; rm -rf /data $(reboot) `id` && echo pwned | cat"
    r = device.shell(["echo", name])
    assert r.out == name + "\n"
    assert "pwned\n" != r.out and device.shell(["ls", "/data/local/tmp"], check=False).rc == 0


def test_push_pull_roundtrip(device, tmp_path):
    data = os.urandom(3_000_000)
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    device.push(src, "/data/local/tmp/blob.bin")
    line = device.shell(["sha256sum", "/data/local/tmp/blob.bin"]).out
    assert line.split()[0] == hashlib.sha256(data).hexdigest()
    device.pull("/data/local/tmp/blob.bin", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == data


def test_install_and_run_as(app, tmp_path):
    assert "org.mpkit.bench" in app.shell(["pm", "list", "packages"]).out
    (tmp_path / "r.json").write_text('{"ok": 1}')
    app.push(tmp_path / "r.json", "/data/local/tmp/r.json")
    app.shell(["run-as", "org.mpkit.bench", "mkdir", "-p", "files"])
    app.shell(["run-as", "org.mpkit.bench", "cp", "/data/local/tmp/r.json", "files/r.json"])
    assert app.read_app_file("org.mpkit.bench", "files/r.json") == '{"ok": 1}'


def test_thermal_battery_memory_are_parsed_or_unknown(device):
    assert isinstance(device.thermal_c(), dict)
    battery = device.battery()
    if battery["present"]:
        assert 0 <= battery["level_pct"] <= 100
    else:
        assert battery["level_pct"] is None
    pss = device.pss_mb("org.mpkit.bench")
    assert pss is None or pss > 0


@virtual_only
def test_two_devices_and_no_serial(adb_addr):
    with pytest.raises(MultipleDevices, match="2 devices attached.*pass --serial"):
        device_lib.connect(None, adb_addr)


def test_unknown_serial_and_no_server():
    with pytest.raises(NoDevice, match="no adb server at 127.0.0.1:9"):
        device_lib.connect(None, "127.0.0.1:9")


@virtual_only
def test_storage_full(device, vdev, tmp_path):
    vdev.faults.storage_limit_bytes = 1_000_000
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(2_000_000))
    with pytest.raises(StorageFull, match="no space left"):
        device.push(big, "/data/local/tmp/big.bin")


@virtual_only
def test_hung_command_times_out(device, vdev):
    vdev.faults.hang_on = "sleepy"
    with pytest.raises(DeviceTimeout, match="took longer than 2 s"):
        device.shell(["echo", "sleepy"], timeout=2)


@virtual_only
def test_unauthorized_device(fleet):
    target = fleet.host.start(1)[0]
    target.device.trusted_keys = []  # a phone that never accepted this computer's key
    fleet.server.run("connect", target.device.serial)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        states = {i.serial: i.state for i in device_lib.list_devices(
            f"127.0.0.1:{fleet.server.port}")}
        if states.get(target.device.serial) in ("unauthorized", "authorizing"):
            break
        time.sleep(0.2)
    try:
        with pytest.raises(Unauthorized, match="accept the USB debugging prompt"):
            device_lib.connect(target.device.serial, f"127.0.0.1:{fleet.server.port}")
    finally:
        fleet.server.run("disconnect", target.device.serial)


@virtual_only
def test_link_dropped_mid_command(device, vdev):
    vdev.faults.drop_link_on = "dropme"
    with pytest.raises(LinkLost, match="link lost"):
        device.shell(["echo", "dropme"], timeout=10)


def _lan_address() -> str | None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 9))  # no packet is sent; picks the outgoing interface
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


@virtual_only
def test_remote_adb_server_is_driven_the_same_way(fleet, tmp_path):
    """A lab host's adb server (listening on the network) driven from here with --adb."""
    from mpkit.vdevice.daemon import AdbServer

    ip = _lan_address()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    remote = AdbServer(fleet.server.adb, tmp_path, listen_all=True)
    try:
        fleet.host.trust(auth.load_keys(remote.key))  # the lab host's key, accepted on the phone
        serial = fleet.serials[0]
        remote.connect(serial)
        result = CliRunner().invoke(cli, ["devices", "list", "--adb", f"{ip}:{remote.port}",
                                          "--json"])
        assert result.exit_code == 0, result.stderr
        assert [d["serial"] for d in json.loads(result.stdout)] == [serial]
        dev = device_lib.connect(serial, f"{ip}:{remote.port}")
        assert dev.shell(["echo", "over the network"]).out.strip() == "over the network"
        assert dev.info().virtual
    finally:
        remote.stop()
