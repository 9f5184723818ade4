"""A wheel built from the repository installs into a fresh venv (no system site-packages: only
mpkit and its base dependencies) and works there, away from the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "python_tools/mpkit", "models",
           "quantization")


def _run(args, cwd: Path, timeout: float = 1800) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("MPKIT_")
           or k == "MPKIT_CACHE_DIR"}
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for name in SOURCES:  # a copy, so the build leaves nothing in the checkout
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, src / name)
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                  "-w", tmp / "dist", src], tmp)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("mpkit-*.whl")
    made = _run([sys.executable, "-m", "venv", tmp / "venv"], tmp)
    assert made.returncode == 0, made.stderr
    python = tmp / "venv" / "bin" / "python"
    # torch is the CPU build, from the local wheel folder when there is one (as scripts/setup.sh)
    torch = (["--find-links", "/opt/wheels"] if list(Path("/opt/wheels").glob("torch-*+cpu-*.whl"))
             else ["--extra-index-url", "https://download.pytorch.org/whl/cpu"])
    installed = _run([python, "-m", "pip", "install", "-q", *torch, "-c",
                      ROOT / "requirements/lock.txt", wheel], tmp)
    assert installed.returncode == 0, installed.stderr[-3000:]
    listed = _run([python, "-m", "pip", "list", "--format=json"], tmp)
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "mpkit" in names and "executorch" not in names and "litert-torch" not in names
    assert not any(n.startswith("nvidia-") for n in names)  # the stack stays CPU-only
    return tmp / "venv" / "bin"


@pytest.mark.slow
def test_models_list_works_from_the_wheel(venv, tmp_path):
    result = _run([venv / "mpkit", "models", "list", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {r["id"]: r for r in json.loads(result.stdout)}
    assert {"mp-16g", "mp-7g", "mp-4g", "mp-tiny"} <= set(rows)
    assert rows["mp-tiny"]["trained"]  # its shipped weights are in the wheel
    assert _run([venv / "mpkit", "--help"], tmp_path).returncode == 0  # every command imports


@pytest.mark.slow
def test_doctor_from_the_wheel_names_the_missing_extras(venv, tmp_path):
    result = _run([venv / "mpkit", "doctor", "--json"], tmp_path)
    assert result.returncode == 1, result.stderr[-3000:]
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert not report["ok"]
    assert not checks["tflite"]["ok"] and "mpkit[tflite]" in checks["tflite"]["fix"]
    assert not checks["executorch-xnnpack"]["ok"]
    assert "mpkit[executorch]" in checks["executorch-xnnpack"]["fix"]
    site = str(venv.parent / "lib")
    assert checks["models"]["ok"] and checks["models"]["detail"].startswith(site)
    assert checks["recipes"]["ok"] and checks["recipes"]["detail"].startswith(site)
    assert "error: the main job cannot run: executorch-xnnpack, tflite" in result.stderr


@pytest.mark.slow
def test_a_missing_extra_is_a_clean_error(venv, tmp_path):
    result = _run([venv / "mpkit", "check", "mp-tiny", "--backend", "executorch-xnnpack"],
                  tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: the Python module executorch is not installed: pip install 'mpkit[executorch]'")
