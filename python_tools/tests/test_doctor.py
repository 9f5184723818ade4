"""`mpkit doctor` on this host: every backend, adb, the data folders, the hash-checked assets, the
software GPU and the Java/Kotlin tools, with a non-zero exit naming the fix when the main job
cannot run."""

from __future__ import annotations

import json

import pytest

from mpkit.export.backends import BACKENDS
from mpkit.media import assets


def _doctor(run_cli):
    code, out, err = run_cli("doctor", "--json")
    return code, json.loads(out), err


def test_doctor_reports_everything_and_passes_here(run_cli, asset, monkeypatch, free_port,
                                                   listening):
    monkeypatch.delenv("QNN_SDK_ROOT", raising=False)
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(free_port))
    code, report, err = _doctor(run_cli)
    assert code == 0 and report["ok"], err
    checks = {c["name"]: c for c in report["checks"]}
    assert set(BACKENDS) <= set(checks)
    for name in ("tflite", "executorch-xnnpack"):  # what the demo exports and runs
        check = checks[name]
        assert check["ok"] and check["needed"] and "runs here" in check["detail"]
    qnn = checks["executorch-qnn"]
    assert not qnn["ok"] and not qnn["needed"] and "QNN_SDK_ROOT" in qnn["detail"]
    assert "lowers only" in checks["executorch-vulkan"]["detail"]
    total = len(assets.catalog()[1])
    assert checks["cached assets"]["detail"].startswith(f"{total}/{total} ")
    server = checks[f"adb server 127.0.0.1:{free_port}"]
    assert server["detail"].startswith("not running") and not listening(free_port)  # none started
    assert checks["adb binary"]["ok"] and "Android Debug Bridge" in checks["adb binary"]["detail"]
    assert {"java", "javac", "kotlinc", "software GPU (SwiftShader Vulkan)"} <= set(checks)


def test_doctor_fails_naming_the_fix_for_a_damaged_asset(run_cli, asset, tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "assets"
    cache.mkdir(parents=True)
    for path in assets.assets_dir().iterdir():
        (cache / path.name).symlink_to(path)
    (cache / "obama.jpg").unlink()
    (cache / "obama.jpg").write_bytes(asset("obama.jpg").read_bytes()[:-1])
    (cache / "group.jpg").unlink()
    monkeypatch.setenv("MPKIT_CACHE_DIR", str(tmp_path / "cache"))
    code, report, err = _doctor(run_cli)
    check = next(c for c in report["checks"] if c["name"] == "cached assets")
    assert code == 1 and not report["ok"] and check["fix"] == "mpkit assets fetch"
    assert "obama.jpg fails its sha256 check" in check["detail"]
    assert "group.jpg missing" in check["detail"]
    assert err == "error: the main job cannot run: cached assets missing (fixes above)\n"


def test_doctor_fails_without_the_data_folders(run_cli, asset, tmp_path, monkeypatch):
    monkeypatch.setenv("MPKIT_DATA_DIR", str(tmp_path))
    code, out, _ = run_cli("doctor")
    assert code == 1
    assert "MISSING  data     models" in out and "fix: set MPKIT_DATA_DIR to a folder" in out
