"""Command-line contract: exit codes (1 mpkit, 2 usage, 3 device), clean one-line errors for known
failures, ranges and registry choices checked by click, one spelling per flag."""

from __future__ import annotations

import json

import pytest

from mpkit.vdevice.control import bundled_adb
from mpkit.vdevice.daemon import AdbServer


@pytest.fixture()
def empty_adb(tmp_path):
    """A real private adb server with no device attached."""
    home = tmp_path / "adb-home"
    home.mkdir()
    server = AdbServer(bundled_adb(), home)
    yield f"127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture()
def no_vdevices(tmp_path, monkeypatch):
    monkeypatch.setenv("MPKIT_CACHE_DIR", str(tmp_path / "cache"))


def test_virtual_with_nothing_running_is_a_device_error(run_cli, no_vdevices):
    for args in (["devices", "list", "--virtual"], ["devices", "info", "--virtual"]):
        code, _, err = run_cli(*args)
        assert code == 3 and err == "error: no virtual devices running: start them with " \
            "`mpkit vdevice start`\n", (args, code, err)


def test_bench_all_without_devices_is_a_device_error(run_cli, empty_adb, tmp_path):
    code, _, err = run_cli("bench", "run", tmp_path, "--all", "--adb", empty_adb,
                           "--db", tmp_path / "r.sqlite")
    assert code == 3 and "--all: no device ready" in err, (code, err)


@pytest.mark.parametrize("args, flag", [
    (["bench", "run", "B", "--frames", "0"], "--frames"),
    (["bench", "run", "B", "--repeat", "0"], "--repeat"),
    (["demo", "--frames", "0"], "--frames"),
    (["vdevice", "start", "--count", "0"], "--count"),
])
def test_out_of_range_numbers_are_usage_errors(run_cli, empty_adb, no_vdevices, args, flag):
    code, _, err = run_cli(*args, *(["--adb", empty_adb] if args[0] == "bench" else []))
    assert code == 2 and f"Invalid value for '{flag}'" in err and "range" in err, err


@pytest.mark.parametrize("args, listed", [
    (["bench", "run", "B", "--delegate", "gpux"], "'cpu', 'xnnpack', 'gpu'"),
    (["export", "mp-tiny", "--backend", "tflit", "-o", "X"], "'executorch-xnnpack'"),
    (["check", "mp-tiny", "--backend", "tflite", "--recipe", "fp33"], "'fp32'"),
])
def test_registry_names_are_checked_and_listed(run_cli, empty_adb, args, listed):
    code, _, err = run_cli(*args, *(["--adb", empty_adb] if args[0] == "bench" else []))
    assert code == 2 and "is not one of" in err and listed in err, err


def test_a_corrupt_results_database_is_a_clean_error(run_cli, tmp_path):
    db = tmp_path / "results.sqlite"
    db.write_bytes(b"not a database, just bytes" * 100)
    code, _, err = run_cli("bench", "report", "--db", db, "-o", tmp_path / "r.md")
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1, err


def test_output_is_spelled_the_same_everywhere():
    from mpkit.cli.main import cli
    import click

    ctx = click.Context(cli)
    seen = {}
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        subs = command.commands.values() if isinstance(command, click.Group) else [command]
        for sub in subs:
            for p in sub.params:
                if "-o" in p.opts:
                    seen[f"{name} {sub.name}"] = p.opts
    assert len(seen) >= 7 and all(opts == ["-o", "--output"] for opts in seen.values()), seen


def test_vdevice_start_and_status_print_json(run_cli, no_vdevices):
    code, out, err = run_cli("vdevice", "start", "--json")
    try:
        assert code == 0, err
        started = json.loads(out)
        code, out, _ = run_cli("vdevice", "status", "--json")
        assert code == 0 and json.loads(out)["adb_port"] == started["adb_port"]
        code, out, _ = run_cli("devices", "list", "--virtual", "--json")
        assert code == 0 and [d["serial"] for d in json.loads(out)] == started["serials"]
    finally:
        assert run_cli("vdevice", "stop")[0] == 0
