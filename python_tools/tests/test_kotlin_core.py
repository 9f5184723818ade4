"""The Kotlin core (android_app/core) against the Python side: its own tests pass under
scripts/kotlin.sh, and every protocol and manifest constant it uses is the one mpkit uses."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from mpkit.bench import protocol
from mpkit.bench.protocol import BenchRequest, BenchResult, StageTimes, SustainedPoint
from mpkit.bench.runner import default_delegate
from mpkit.bench.stats import summarize
from mpkit.device.deploy import REMOTE_ROOT
from mpkit.export import bundle
from mpkit.export.backends import BACKENDS
from mpkit.export.pipeline import HELPERS
from mpkit.export.validate import SPEECH_FPS
from mpkit.models import portrait
from mpkit.models.audio import AudioComponent
from mpkit.pipeline import crop

ROOT = Path(__file__).resolve().parents[2]
KOTLIN_TIMEOUT_S = 1200  # from scratch: npm + apt installs, two kotlinc runs on a busy machine


def _kotlin(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "scripts/kotlin.sh", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=KOTLIN_TIMEOUT_S)


@pytest.fixture(scope="module")
def kotlin() -> dict:
    """The constants the Kotlin core really uses, printed by its own `main` on the JVM."""
    run = _kotlin("constants")
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


@pytest.mark.slow
def test_kotlin_core_compiles_and_its_tests_pass():
    run = _kotlin()
    last = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    assert run.returncode == 0, f"{last}\n{run.stderr[-4000:]}"
    counts = re.fullmatch(r"(\d+) passed, (\d+) failed", last)
    assert counts, f"no closing count line: {run.stdout[-500:]!r}"
    assert int(counts[1]) >= 70 and counts[2] == "0"


def test_protocol_constants_agree(kotlin):
    assert (kotlin["protocol_version"], kotlin["app_package"], kotlin["bench_activity"],
            kotlin["results_dir"], kotlin["max_result_bytes"]) == (
        protocol.PROTOCOL_VERSION, protocol.APP_PACKAGE, protocol.BENCH_ACTIVITY,
        protocol.RESULTS_DIR, protocol.MAX_RESULT_BYTES)
    assert kotlin["delegates"] == list(protocol.DELEGATES)
    assert kotlin["deployed_bundles"] == REMOTE_ROOT
    assert kotlin["driving_modes"] == list(protocol.DRIVING_MODES)


def _constraint(info, name: str):
    return next((getattr(m, name) for m in info.metadata if getattr(m, name, None) is not None),
                None)


def test_request_extras_agree_in_name_type_default_and_range(kotlin):
    types = {str: "string", int: "int", float: "float"}
    python = [{"name": name, "type": types[info.annotation],
               "default": None if info.is_required() else info.default,
               "min": _constraint(info, "ge"), "pattern": _constraint(info, "pattern")}
              for name, info in BenchRequest.model_fields.items()]
    ours = [{k: e[k] for k in ("name", "type", "default", "min", "pattern")}
            for e in kotlin["extras"]]
    assert ours == python
    choices = {e["name"]: e["choices"] for e in kotlin["extras"] if e["choices"]}
    assert choices == {"delegate": list(protocol.DELEGATES),
                       "driving": list(protocol.DRIVING_MODES)}


def test_result_keys_agree(kotlin):
    assert kotlin["result_keys"] == list(BenchResult.model_fields)
    assert kotlin["result_optional_keys"] == [
        k for k, info in BenchResult.model_fields.items() if not info.is_required()]
    assert kotlin["times_keys"] == list(StageTimes.model_fields)
    assert kotlin["sustained_keys"] == list(SustainedPoint.model_fields)
    status = _constraint(BenchResult.model_fields["status"], "pattern")
    assert status == "^(" + "|".join(kotlin["statuses"]) + ")$"


def test_manifest_schema_agrees(kotlin):
    assert (kotlin["schema_version"], kotlin["manifest"], kotlin["max_manifest_bytes"],
            kotlin["max_manifest_depth"]) == (bundle.SCHEMA_VERSION, bundle.MANIFEST,
                                              bundle.MAX_MANIFEST_BYTES, bundle.MAX_MANIFEST_DEPTH)
    assert kotlin["manifest_keys"] == list(bundle.Manifest.model_fields)
    assert kotlin["component_keys"] == list(bundle.ComponentEntry.model_fields)
    assert kotlin["helper_keys"] == list(bundle.HelperEntry.model_fields)
    assert kotlin["tensor_keys"] == list(bundle.TensorIO.model_fields)


def test_backends_runtimes_and_default_delegates_agree(kotlin):
    assert kotlin["backends"] == {name: b.runtime for name, b in BACKENDS.items()}
    for name, delegates in kotlin["backend_delegates"].items():
        assert delegates[0] == default_delegate(name), name
        assert set(delegates) <= set(protocol.DELEGATES), name
    assert list(kotlin["backend_delegates"]) == list(BACKENDS)


def test_required_components_and_helpers_are_the_ones_mpkit_exports(kotlin):
    parts = (portrait.KeypointsComponent, portrait.DenseMotionComponent,
             portrait.SynthesisComponent, portrait.MultiviewComponent)
    assert kotlin["required_components"] == {c.name: c.stage for c in parts}
    assert kotlin["audio_stage"] == bundle.AUDIO_STAGE == AudioComponent.stage
    assert kotlin["speech_fps"] == SPEECH_FPS  # the host reference of speech-driven frames
    for role in kotlin["required_helpers"]:
        assert HELPERS[role][1] == "litert", role


def test_frame_budgets_agree(kotlin):
    assert kotlin["budget_ms"] == [1000 / 30, 1000 / 60]


def test_frame_stats_fixture_is_what_summarize_computes():
    """The Kotlin tests reproduce testdata/stats/frame_stats.json; it must stay Python's."""
    cases = json.loads((ROOT / "testdata/stats/frame_stats.json").read_text())["cases"]
    assert len(cases) >= 5
    for case in cases:
        assert summarize(case["frame_ms"]) == case["summary"], case["name"]


GRADLE_FILES = ("build.gradle", "settings.gradle", "android_app/core/build.gradle.kts",
                "android_app/app/build.gradle.kts")


def test_gradle_files_use_exactly_the_catalog():
    """The Gradle build cannot run here: every alias it names must be in the version catalog,
    every catalog entry must be used, and no build file may carry a version of its own."""
    catalog = tomllib.loads((ROOT / "gradle/libs.versions.toml").read_text())
    text = re.sub(r"//.*", "", "\n".join((ROOT / f).read_text() for f in GRADLE_FILES))
    used = set(re.findall(r"\blibs\.([a-z][\w.]*?)(?=\.get\(\)|[)\s,])", text))
    entries = [*catalog["libraries"].values(), *catalog["plugins"].values()]
    referenced = {e["version"]["ref"] for e in entries if "version" in e}
    declared = {a.replace("-", ".") for a in catalog["libraries"]} | {
        "plugins." + a.replace("-", ".") for a in catalog["plugins"]} | {
        "versions." + v for v in catalog["versions"] if v not in referenced}
    assert used == declared
    assert referenced <= set(catalog["versions"])
    assert not re.search(r"""["'][\w.-]+:[\w.-]+:\d""", text), "a version outside the catalog"


def test_catalog_versions_are_the_ones_used_here():
    """Kotlin as scripts/kotlin.sh pins it; ExecuTorch and LiteRT as the Python runtimes that
    write and validate the bundles (a .pte needs the runtime version that wrote it)."""
    versions = tomllib.loads((ROOT / "gradle/libs.versions.toml").read_text())["versions"]
    pinned = re.search(r"^KOTLIN_VERSION=(\S+)", (ROOT / "scripts/kotlin.sh").read_text(), re.M)
    assert versions["kotlin"] == pinned[1]
    assert versions["executorch"] == metadata.version("executorch")
    assert versions["litert"] == metadata.version("ai-edge-litert")


def test_pipeline_constants_agree(kotlin):
    import inspect

    from mpkit.landmarks import face, facial

    assert (kotlin["crop_scale"], kotlin["crop_lift"]) == (crop.CROP_SCALE, crop.CROP_LIFT)
    assert kotlin["facial_indices"] == facial.facial_indices().tolist()
    sigma = inspect.signature(facial.facial_mask).parameters["sigma"].default
    assert kotlin["facial_mask_sigma"] == pytest.approx(sigma, rel=1e-7)
    assert kotlin["segmenter_size"] == face.SEGMENTER_SIZE
