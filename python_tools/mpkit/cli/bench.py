from __future__ import annotations

from pathlib import Path

import click

from mpkit.bench.report import write_report
from mpkit.bench.runner import BenchSpec, new_run_id, run_bench
from mpkit.bench.store import Store
from mpkit.bench.protocol import DRIVING_MODES
from mpkit.cli.common import (
    DELEGATE, adb_option, echo_json, json_option, progress, resolve_adb, say,
)
from mpkit.device import adb as device_lib
from mpkit.device.errors import NoDevice

DEFAULT_DB = Path("out/bench/results.sqlite")
FORMATS = {".md": "md", ".html": "html", ".htm": "html"}


@click.group("bench")
def bench() -> None:
    """Benchmarks on devices (virtual devices give host-measured figures) and their reports."""


@bench.command("run")
@click.argument("bundles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--serial", "-s", multiple=True, help="device serial (repeatable)")
@click.option("--all", "all_devices", is_flag=True, help="every attached device, in parallel")
@adb_option
@click.option("--delegate", "delegates", multiple=True, type=DELEGATE,
              help="repeatable; default: the bundle backend's own (tflite cpu, "
              "executorch-xnnpack xnnpack)")
@click.option("--threads", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--driving", default="video", show_default=True,
              type=click.Choice(DRIVING_MODES))
@click.option("--frames", default=60, show_default=True, type=click.IntRange(min=1))
@click.option("--warmup", default=5, show_default=True, type=click.IntRange(min=0))
@click.option("--repeat", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--sustained", "sustained_min", default=0.0, type=click.FloatRange(min=0),
              help="minutes of sustained load")
@click.option("--capture", "capture_frames", default=0, type=click.IntRange(min=0),
              help="output frames to pull for quality")
@click.option("--cooldown", "cooldown_s", default=5.0, show_default=True,
              type=click.FloatRange(min=0))
@click.option("--max-start-temp", "max_start_temp_c", default=45.0, show_default=True,
              type=float, help="°C the device must be under before a cell starts")
@click.option("--thermal-wait", "thermal_wait_s", default=60.0, show_default=True,
              type=click.FloatRange(min=0), help="seconds to wait for it")
@click.option("--require-cool", is_flag=True,
              help="refuse a cell still over --max-start-temp after the wait (default: measure "
              "it and mark the record timed_out_hot)")
@click.option("--timeout", "timeout_s", default=600.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True))
@click.option("--db", type=click.Path(path_type=Path), default=DEFAULT_DB, show_default=True)
@click.option("--resume", "resume", help="continue this run id without redoing finished cells")
@json_option
def run(bundles, serial, all_devices, adb, virtual, delegates, threads, driving, frames, warmup,
        repeat, sustained_min, capture_frames, cooldown_s, max_start_temp_c, thermal_wait_s,
        require_cool, timeout_s, db, resume, as_json):
    """Benchmark BUNDLES on devices; records go to the SQLite --db as they arrive."""
    if all_devices and serial:
        raise click.UsageError("--all and --serial exclude each other")
    addr = resolve_adb(adb, virtual)
    if all_devices:
        serials = [i.serial for i in device_lib.list_devices(addr) if i.state == "device"]
        if not serials:
            raise NoDevice(f"--all: no device ready on the adb server {addr or '(default)'}")
    else:
        serials = list(serial) or [None]
    devices = [device_lib.connect(s, addr) for s in serials]
    spec = BenchSpec(bundles=[str(b.resolve()) for b in bundles],
                     delegates=list(delegates) or [None], threads=threads, driving=driving,
                     frames=frames, warmup=warmup, repeat=repeat, sustained_min=sustained_min,
                     capture_frames=capture_frames, cooldown_s=cooldown_s,
                     max_start_temp_c=max_start_temp_c, thermal_wait_s=thermal_wait_s,
                     require_cool=require_cool, timeout_s=timeout_s)
    store = Store(db)
    run_id = resume or new_run_id()
    try:
        run_bench(spec, devices, store, run_id, progress=progress)
    except KeyboardInterrupt:
        say(f"interrupted: finished cells are kept in {db}; resume with --resume {run_id}")
        raise SystemExit(130) from None
    if as_json:
        echo_json({"run_id": run_id, "db": str(db), "records": store.records([run_id])})
        return
    click.echo(run_id)


@bench.command("report")
@click.argument("run_ids", nargs=-1)
@click.option("--db", type=click.Path(path_type=Path), default=DEFAULT_DB, show_default=True)
@click.option("--format", "fmt", type=click.Choice(sorted(set(FORMATS.values()))),
              help="default: from the -o suffix (.md, .html)")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path))
def report(run_ids, db, fmt, output):
    """Tables and plots of RUN_IDS (default: the latest run)."""
    fmt = fmt or FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise click.UsageError(f"cannot tell the format from {output.name!r}: name it .md or "
                               ".html, or pass --format", ctx=click.get_current_context())
    store = Store(db, read_only=True)
    ids = list(run_ids) or store.run_ids()[-1:]
    warnings: list[str] = []
    out = write_report(store, ids, output, fmt, warnings)
    for w in warnings:
        say(f"warning: {w}")
    click.echo(str(out))
