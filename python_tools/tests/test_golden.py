"""The golden protocol and manifest fixtures parse with the current schemas (the Kotlin app's
tests read the same files)."""

import json
from pathlib import Path

import pytest

from mpkit.bench.protocol import PROTOCOL_VERSION, BenchRequest, parse_result
from mpkit.errors import DeviceError
from mpkit.export.bundle import SCHEMA_VERSION, Manifest

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"


def test_request_extras_roundtrip():
    data = json.loads((TESTDATA / "protocol/request.json").read_text())
    assert BenchRequest(**data).extras() == data


@pytest.mark.parametrize("name", ["result_ok.json", "result_error.json"])
def test_results_parse(name):
    result = parse_result((TESTDATA / "protocol" / name).read_text(), name)
    assert result.run_id.startswith("golden-run")
    assert (result.times is None) == (result.status == "error")


def test_unknown_field_in_a_result_is_rejected():
    data = json.loads((TESTDATA / "protocol/result_ok.json").read_text())
    data["fps_overlay"] = 1
    with pytest.raises(Exception, match="fps_overlay"):
        parse_result(json.dumps(data), "x")


def test_newer_result_version():
    data = json.loads((TESTDATA / "protocol/result_ok.json").read_text())
    data["protocol_version"] = PROTOCOL_VERSION + 1
    with pytest.raises(DeviceError, match=f"protocol version {PROTOCOL_VERSION + 1}"):
        parse_result(json.dumps(data), "x")


def test_manifest_fixture_matches_the_schema():
    data = json.loads((TESTDATA / "manifest/manifest_tflite_fp32.json").read_text())
    manifest = Manifest(**data)
    assert manifest.schema_version == SCHEMA_VERSION
    assert [c.name for c in manifest.components] == ["keypoints", "dense_motion", "synthesis",
                                                     "multiview"]
