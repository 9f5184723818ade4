"""adb's RSA authentication, device side, as adbd does it: the device sends a random 20-byte
token, the host signs it with its private key (RSA PKCS#1 v1.5, the token taken as a SHA-1
digest), and the device checks the signature against the public keys it trusts. Keys are adb's
own format: base64 of a little-endian RSA struct, then " user@host" (~/.android/adbkey.pub)."""

from __future__ import annotations

import base64
import binascii
import hmac
import struct
from dataclasses import dataclass
from pathlib import Path

TOKEN_SIZE = 20
MODULUS_BYTES = 256  # adb keys are RSA-2048
ENCODED_SIZE = 4 + 4 + MODULUS_BYTES + MODULUS_BYTES + 4  # words, n0inv, n, rr, e
SHA1_DIGEST_INFO = bytes.fromhex("3021300906052b0e03021a05000414")


@dataclass(frozen=True)
class PublicKey:
    n: int
    e: int
    comment: str = ""


def parse_public_key(line: str) -> PublicKey:
    """One line of an adbkey.pub / adb_keys file; ValueError when it is not an adb RSA key."""
    b64, _, comment = line.strip().replace("\t", " ").partition(" ")
    try:
        raw = base64.b64decode(b64, validate=True)
    except binascii.Error as e:
        raise ValueError(f"not base64: {e}") from e
    if len(raw) != ENCODED_SIZE:
        raise ValueError(f"{len(raw)} bytes, an adb public key has {ENCODED_SIZE}")
    (words,) = struct.unpack_from("<I", raw)
    if words * 4 != MODULUS_BYTES:
        raise ValueError(f"modulus of {words} words, adb keys have {MODULUS_BYTES // 4}")
    n = int.from_bytes(raw[8:8 + MODULUS_BYTES], "little")
    (e,) = struct.unpack_from("<I", raw, ENCODED_SIZE - 4)
    return PublicKey(n, e, comment.rstrip("\0"))


def load_keys(path: Path) -> list[PublicKey]:
    """The valid keys of a key file, one a line; like adbd, lines that are not keys are skipped."""
    keys = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            keys.append(parse_public_key(line))
        except ValueError:
            continue
    return keys


def user_keys() -> list[PublicKey]:
    """The key the adb binary creates for this user (~/.android/adbkey.pub), if there is one."""
    path = Path.home() / ".android" / "adbkey.pub"
    return load_keys(path) if path.is_file() else []


def verify(key: PublicKey, token: bytes, signature: bytes) -> bool:
    """RSA_verify(NID_sha1, token, signature, key) as adbd calls it."""
    if len(token) != TOKEN_SIZE or len(signature) != MODULUS_BYTES:
        return False
    s = int.from_bytes(signature, "big")
    if s >= key.n:
        return False
    padded = pow(s, key.e, key.n).to_bytes(MODULUS_BYTES, "big")
    pad = MODULUS_BYTES - 3 - len(SHA1_DIGEST_INFO) - TOKEN_SIZE
    expected = b"\0\1" + b"\xff" * pad + b"\0" + SHA1_DIGEST_INFO + token
    return hmac.compare_digest(padded, expected)
