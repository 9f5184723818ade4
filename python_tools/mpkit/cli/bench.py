from __future__ import annotations

from pathlib import Path

import click

from mpkit.bench.report import write_report
from mpkit.bench.runner import BenchSpec, run_bench
from mpkit.bench.store import Store
from mpkit.cli.devices import adb_option, resolve_adb
from mpkit.device import adb as device_lib

DEFAULT_DB = Path("out/bench/results.sqlite")


@click.group("bench")
def bench() -> None:
    """Benchmarks on devices (virtual devices give host-measured figures) and their reports."""


@bench.command("run")
@click.argument("bundles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--serial", "-s", multiple=True, help="device serial (repeatable)")
@click.option("--all", "all_devices", is_flag=True, help="every attached device, in parallel")
@adb_option
@click.option("--delegate", "delegates", multiple=True, default=["cpu"], show_default=True)
@click.option("--frames", default=60, show_default=True)
@click.option("--warmup", default=5, show_default=True)
@click.option("--repeat", default=1, show_default=True)
@click.option("--sustained", "sustained_min", default=0.0, help="minutes of sustained load")
@click.option("--capture", "capture_frames", default=0, help="output frames to pull for quality")
@click.option("--cooldown", "cooldown_s", default=5.0, show_default=True)
@click.option("--timeout", "timeout_s", default=600.0, show_default=True)
@click.option("--db", type=click.Path(path_type=Path), default=DEFAULT_DB, show_default=True)
@click.option("--resume", "resume", help="continue this run id without redoing finished cells")
def run(bundles, serial, all_devices, adb, virtual, delegates, frames, warmup, repeat,
        sustained_min, capture_frames, cooldown_s, timeout_s, db, resume):
    """Benchmark BUNDLES on devices; records go to the SQLite --db as they arrive."""
    addr = resolve_adb(adb, virtual)
    if all_devices:
        serials = [i.serial for i in device_lib.list_devices(addr) if i.state == "device"]
    else:
        serials = list(serial) or [None]
    devices = [device_lib.connect(s, addr) for s in serials]
    spec = BenchSpec(bundles=[str(b.resolve()) for b in bundles], delegates=list(delegates),
                     frames=frames, warmup=warmup, repeat=repeat, sustained_min=sustained_min,
                     capture_frames=capture_frames, cooldown_s=cooldown_s, timeout_s=timeout_s)
    run_id = run_bench(spec, devices, Store(db), resume,
                       progress=lambda m: click.echo(f"... {m}", err=True))
    click.echo(run_id)


@bench.command("report")
@click.argument("run_ids", nargs=-1)
@click.option("--db", type=click.Path(path_type=Path), default=DEFAULT_DB, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="html")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path))
def report(run_ids, db, fmt, output):
    """Tables and plots of RUN_IDS (default: the latest run)."""
    store = Store(db)
    ids = list(run_ids) or store.run_ids()[-1:]
    click.echo(str(write_report(store, ids, output, fmt)))


COMMANDS = [bench]
