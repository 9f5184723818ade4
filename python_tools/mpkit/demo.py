"""The main job on this host: animate, export bundles, benchmark them on a virtual device
through a real adb server, and write the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mpkit.bench.report import write_report
from mpkit.bench.runner import BenchSpec, run_bench
from mpkit.bench.store import Store
from mpkit.device import adb as device_lib
from mpkit.export.pipeline import export
from mpkit.media import assets
from mpkit.models import zoo
from mpkit.pipeline.render import animate_video
from mpkit.vdevice.control import bundled_adb
from mpkit.vdevice.daemon import Fleet

BUNDLES = (("tflite", "fp32"), ("tflite", "mixed"), ("executorch-xnnpack", "fp32"))


@dataclass(frozen=True)
class DemoResult:
    video: Path
    bundles: list[Path]
    report_html: Path
    report_md: Path
    run_id: str


def run_demo(model_id: str, out: Path, frames: int = 30,
             progress: Callable[[str], None] = lambda message: None) -> DemoResult:
    assets.fetch()
    checkpoint = zoo.default_checkpoint(model_id)
    model = zoo.build(model_id, checkpoint)
    progress(f"animating {model_id} ({'trained' if model.trained else 'UNTRAINED'})")
    video = animate_video(model, assets.asset_path("obama.jpg"), assets.asset_path("carphone.mp4"),
                          out / f"{model_id}-obama-carphone.mp4", side_by_side=True).output
    bundles = []
    for backend, recipe in BUNDLES:
        progress(f"exporting {model_id} for {backend} ({recipe})")
        bundles.append(export(model_id, backend, recipe,
                              out / "bundles" / f"{model_id}-{backend}-{recipe}", checkpoint,
                              force=True, progress=progress).out)
    progress("starting a virtual device behind a private adb server")
    fleet = Fleet(1, bundled_adb())
    try:
        device = device_lib.connect(fleet.serials[0], f"127.0.0.1:{fleet.server.port}")
        store = Store(out / "results.sqlite")
        spec = BenchSpec(bundles=[str(b.resolve()) for b in bundles], frames=frames, warmup=3,
                         cooldown_s=1, capture_frames=2)
        run_id = run_bench(spec, [device], store, progress=progress)
    finally:
        fleet.stop()
    html = write_report(store, [run_id], out / "report.html", "html")
    md = write_report(store, [run_id], out / "report.md", "md")
    return DemoResult(video, bundles, html, md, run_id)
