"""The virtual device authenticates adb hosts as adbd does (RSA token signature), and bounds what
a host can make it buffer. Raw-socket clients here speak the wire protocol themselves."""

from __future__ import annotations

import base64
import os
import socket
import struct
import subprocess
import time

import pytest

from mpkit.device import adb as device_lib
from mpkit.vdevice import auth
from mpkit.vdevice.control import bundled_adb
from mpkit.vdevice.protocol import (
    A_AUTH, A_CLSE, A_CNXN, A_OKAY, A_OPEN, A_WRTE, HEADER, MAX_PAYLOAD, VERSION,
)
from mpkit.vdevice.server import DeviceHost

AUTH_TOKEN, AUTH_SIGNATURE, AUTH_RSAPUBLICKEY = 1, 2, 3


def _der(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at `at`."""
    tag, length, at = data[at], data[at + 1], at + 2
    if length & 0x80:
        n = length & 0x7F
        length, at = int.from_bytes(data[at:at + n], "big"), at + n
    return tag, at, at + length


def _private_key(pem: str) -> tuple[int, int]:
    """(n, d) of the PKCS#8 RSA key `adb keygen` writes."""
    der = base64.b64decode("".join(ln for ln in pem.splitlines() if "-----" not in ln))
    _, at, _ = _der(der, 0)  # PrivateKeyInfo SEQUENCE
    for _ in range(2):  # version, AlgorithmIdentifier
        at = _der(der, at)[2]
    _, at, _ = _der(der, at)  # OCTET STRING holding RSAPrivateKey
    _, at, _ = _der(der, at)  # RSAPrivateKey SEQUENCE
    ints = []
    for _ in range(4):  # version, n, e, d
        _, start, end = _der(der, at)
        ints.append(int.from_bytes(der[start:end], "big"))
        at = end
    return ints[1], ints[3]


def _sign(key: tuple[int, int], token: bytes) -> bytes:
    n, d = key
    pad = auth.MODULUS_BYTES - 3 - len(auth.SHA1_DIGEST_INFO) - len(token)
    em = b"\0\1" + b"\xff" * pad + b"\0" + auth.SHA1_DIGEST_INFO + token
    return pow(int.from_bytes(em, "big"), d, n).to_bytes(auth.MODULUS_BYTES, "big")


class RawClient:
    """An adb host written by hand: no adb server in between."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)

    def send(self, command: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        self.sock.sendall(HEADER.pack(command, arg0, arg1, len(data), sum(data) & 0xFFFFFFFF,
                                      command ^ 0xFFFFFFFF) + data)

    def _read(self, n: int) -> bytes | None:
        out = b""
        while len(out) < n:
            try:
                chunk = self.sock.recv(n - len(out))
            except ConnectionResetError:  # closed with our bytes unread: the kernel resets
                return None
            if not chunk:
                return None
            out += chunk
        return out

    def recv(self, timeout: float = 5) -> tuple[int, int, int, bytes] | None:
        """The next packet; None when the device closed (or reset) the connection; raises TimeoutError
        when it sends nothing for `timeout` seconds."""
        self.sock.settimeout(timeout)
        head = self._read(HEADER.size)
        if head is None:
            return None
        command, arg0, arg1, length, _, _ = HEADER.unpack(head)
        return command, arg0, arg1, self._read(length) if length else b""

    def authenticate(self, key: tuple[int, int]) -> tuple[int, int, int, bytes]:
        self.send(A_CNXN, VERSION, MAX_PAYLOAD, b"host::\0")
        command, kind, _, token = self.recv()
        assert (command, kind) == (A_AUTH, AUTH_TOKEN)
        self.send(A_AUTH, AUTH_SIGNATURE, 0, _sign(key, token))
        return self.recv()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture()
def keypair(tmp_path):
    """A fresh adb key pair made by the adb binary (`adb keygen`)."""
    subprocess.run([bundled_adb(), "keygen", str(tmp_path / "adbkey")], check=True,
                   capture_output=True)
    return (_private_key((tmp_path / "adbkey").read_text()),
            auth.load_keys(tmp_path / "adbkey.pub"))


@pytest.fixture()
def host(tmp_path):
    host = DeviceHost(tmp_path / "devices")
    yield host
    host.stop()


def test_cnxn_without_a_valid_signature_never_connects(host):
    (run,) = host.start(1)
    client = RawClient(run.port)
    try:
        client.send(A_CNXN, VERSION, MAX_PAYLOAD, b"host::\0")
        command, kind, _, token = client.recv()
        assert (command, kind, len(token)) == (A_AUTH, AUTH_TOKEN, 20)
        client.send(A_OPEN, 1, 0, b"shell:echo hi\0")  # ignored until authenticated
        client.send(A_AUTH, AUTH_SIGNATURE, 0, os.urandom(256))
        command, kind, _, second = client.recv()
        assert (command, kind) == (A_AUTH, AUTH_TOKEN) and second != token
        client.send(A_AUTH, AUTH_RSAPUBLICKEY, 0, b"QUFBQQ== someone@somewhere\0")
        with pytest.raises(TimeoutError):
            client.recv(timeout=1.5)  # no CNXN, no OKAY for the OPEN: nobody accepts the key
    finally:
        client.close()


def test_a_signature_by_a_trusted_key_connects_and_others_do_not(host, keypair):
    private, public = keypair
    (run,) = host.start(1)
    run.device.trusted_keys = []
    client = RawClient(run.port)
    try:
        command, kind, _, _ = client.authenticate(private)
        assert (command, kind) == (A_AUTH, AUTH_TOKEN)  # a valid signature, but not trusted
    finally:
        client.close()
    run.device.trusted_keys = public
    client = RawClient(run.port)
    try:
        command, _, _, banner = client.authenticate(private)
        assert command == A_CNXN and banner.startswith(b"device::")
    finally:
        client.close()


def test_oversized_packet_drops_the_connection(host):
    (run,) = host.start(1)
    client = RawClient(run.port)
    try:
        client.sock.sendall(HEADER.pack(A_CNXN, VERSION, MAX_PAYLOAD, MAX_PAYLOAD + 1, 0,
                                        A_CNXN ^ 0xFFFFFFFF))
        client.sock.sendall(b"x" * 1000)  # the rest of the announced payload never comes
        assert client.recv(timeout=5) is None
    finally:
        client.close()


def _open_sync(client: RawClient) -> int:
    client.send(A_OPEN, 7, 0, b"sync:\0")
    command, device_id, _, _ = client.recv()
    assert command == A_OKAY
    return device_id


def _write(client: RawClient, device_id: int, data: bytes) -> None:
    client.send(A_WRTE, 7, device_id, data)
    assert client.recv()[0] == A_OKAY


def test_push_streams_to_disk_and_caps_sync_blocks(host, keypair):
    private, public = keypair
    (run,) = host.start(1)
    run.device.trusted_keys = public
    client = RawClient(run.port)
    try:
        assert client.authenticate(private)[0] == A_CNXN
        device_id = _open_sync(client)
        path = b"/data/local/tmp/streamed.bin,420"
        block = os.urandom(60_000)
        _write(client, device_id, b"SEND" + struct.pack("<I", len(path)) + path)
        _write(client, device_id, b"DATA" + struct.pack("<I", len(block)) + block)
        partial = run.device.resolve("/data/local/tmp/.streamed.bin.partial")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (partial.is_file()
                                                   and partial.stat().st_size == len(block)):
            time.sleep(0.05)
        assert partial.read_bytes() == block  # on disk before DONE, not held in memory
        _write(client, device_id, b"DATA" + struct.pack("<I", 70_000))  # over adb's 64 KiB
        command, _, _, reply = client.recv()
        assert command == A_WRTE and reply.startswith(b"FAIL") and b"65536" in reply
        client.send(A_OKAY, 7, device_id)
        assert client.recv()[0] == A_CLSE
        assert not partial.exists()  # the abandoned push leaves no partial file
    finally:
        client.close()


def _state(fleet, serial: str, want: str, timeout_s: float = 10) -> str | None:
    deadline = time.monotonic() + timeout_s
    state = None
    while time.monotonic() < deadline:
        states = {i.serial: i.state for i in device_lib.list_devices(
            f"127.0.0.1:{fleet.server.port}")}
        state = states.get(serial)
        if state == want:
            break
        time.sleep(0.2)
    return state


@pytest.mark.virtual_only
def test_real_adb_is_unauthorized_until_its_key_is_trusted(fleet, keypair):
    _, other = keypair
    (run,) = fleet.host.start(1)
    run.device.trusted_keys = other  # trusts some key, not this adb server's
    serial = run.device.serial
    try:
        fleet.server.run("connect", serial)
        assert _state(fleet, serial, "unauthorized") == "unauthorized"
        fleet.server.run("disconnect", serial)
        run.device.trusted_keys = auth.load_keys(fleet.server.key)  # the user accepts it
        fleet.server.connect(serial)
        assert _state(fleet, serial, "device") == "device"
        assert device_lib.connect(serial, f"127.0.0.1:{fleet.server.port}").shell(
            ["echo", "authorized"]).out == "authorized\n"
    finally:
        fleet.server.run("disconnect", serial)
