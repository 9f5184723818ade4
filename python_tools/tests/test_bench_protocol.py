"""Result JSON from a device is untrusted input: every malformed shape is one clean DeviceError."""

import json
from pathlib import Path

import pytest

from mpkit.bench.protocol import MAX_RESULT_BYTES, parse_result
from mpkit.errors import DeviceError

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "protocol"


def _ok() -> dict:
    return json.loads((TESTDATA / "result_ok.json").read_text())


def test_result_says_what_really_ran():
    result = parse_result((TESTDATA / "result_ok.json").read_bytes(), "result_ok.json")
    assert (result.delegate, result.threads, result.driving, result.runtime) == \
        ("gpu", 2, "video", "litert")


@pytest.mark.parametrize("data, message", [
    (b"[1, 2, 3]", "is a JSON list, not an object"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"protocol_version": 1, "run_id": "\xff\xfe"}', "not UTF-8"),
    (b"{not json", "not JSON"),
    (b" " * (MAX_RESULT_BYTES + 1), "over the 16777216 byte cap"),
])
def test_malformed_result_is_a_clean_device_error(data, message):
    with pytest.raises(DeviceError, match=message):
        parse_result(data, "dev:r.json")


def test_schema_errors_are_one_line_naming_the_fields():
    data = _ok()
    data["times"]["frame_ms"] = "fast"
    del data["threads"]
    with pytest.raises(DeviceError) as info:
        parse_result(json.dumps(data), "dev:r.json")
    message = str(info.value)
    assert "\n" not in message and "times.frame_ms" in message and "threads" in message
    assert message.startswith("dev:r.json: the result does not match protocol version 2")
