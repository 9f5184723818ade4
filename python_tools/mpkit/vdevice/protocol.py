"""The adb wire protocol as a device sees it: 24-byte headers, commands, shell v2 framing."""

from __future__ import annotations

import struct
from dataclasses import dataclass

A_CNXN = 0x4E584E43
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_WRTE = 0x45545257
A_CLSE = 0x45534C43
A_AUTH = 0x48545541
VERSION = 0x01000001
MAX_PAYLOAD = 1024 * 1024
HEADER = struct.Struct("<6I")

# shell v2 packet ids
STDIN, STDOUT, STDERR, EXIT, CLOSE_STDIN, WINDOW_SIZE = range(6)
SHELL_V2 = struct.Struct("<BI")


@dataclass(frozen=True)
class Message:
    command: int
    arg0: int
    arg1: int
    data: bytes = b""

    def pack(self) -> bytes:
        # adb 29 and 36 do not check a device's data checksum; send 0 as recent adbd does.
        return HEADER.pack(self.command, self.arg0, self.arg1, len(self.data), 0,
                           self.command ^ 0xFFFFFFFF) + self.data


def parse_header(raw: bytes) -> tuple[int, int, int, int]:
    command, arg0, arg1, length, _, magic = HEADER.unpack(raw)
    if magic != command ^ 0xFFFFFFFF:
        raise ValueError(f"bad adb header magic {magic:#x} for command {command:#x}")
    return command, arg0, arg1, length


def shell_packet(kind: int, data: bytes) -> bytes:
    return SHELL_V2.pack(kind, len(data)) + data
