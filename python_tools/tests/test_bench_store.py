"""The results store under concurrency, across processes and across schema versions."""

import json
import multiprocessing
import sqlite3
import threading

import pytest

from mpkit.bench.store import Store
from mpkit.errors import MpkitError


def _record(i: int) -> dict:
    return {"status": "ok", "virtual": 1, "measured_on": "host (virtual device)",
            "over_budget_30": i % 3, "over_budget_60": i % 5}


def test_three_device_threads_lose_no_rows(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    store.create_run("run", {})
    errors = []

    def device(serial: str) -> None:
        for i in range(150):
            try:
                store.insert("run", f"cell{i}", serial, _record(i))
            except Exception as e:  # a shared connection fails some inserts
                errors.append(e)

    threads = [threading.Thread(target=device, args=(f"dev{k}",)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(store.records(["run"])) == 450
    assert {len(store.done_cells("run", f"dev{k}")) for k in range(3)} == {150}


def _open_and_insert(path, barrier, errors):
    try:
        barrier.wait()
        store = Store(path)
        store.create_run("run", {})
        store.insert("run", "cell", multiprocessing.current_process().name, _record(1))
    except Exception as e:  # reported to the parent
        errors.put(f"{type(e).__name__}: {e}")


def test_two_processes_open_a_fresh_database_at_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    errors = ctx.Queue()
    for attempt in range(16):  # the race shows in about one fresh file in twenty
        path = tmp_path / f"fresh{attempt}.sqlite"
        barrier = ctx.Barrier(2)
        procs = [ctx.Process(target=_open_and_insert, args=(path, barrier, errors),
                             name=f"p{k}") for k in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert errors.empty(), errors.get()
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert len(Store(path).records(["run"])) == 2


def test_an_old_database_is_migrated_to_over_budget_names(tmp_path):
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE runs (run_id TEXT PRIMARY KEY, created_utc TEXT NOT NULL,
                           spec_json TEXT NOT NULL);
        CREATE TABLE records (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, cell TEXT NOT NULL,
            serial TEXT NOT NULL, created_utc TEXT NOT NULL, status TEXT NOT NULL,
            virtual INTEGER NOT NULL, measured_on TEXT NOT NULL, model_id TEXT, backend TEXT,
            precision TEXT, delegate TEXT, bundle TEXT, manifest_sha256 TEXT, p50_ms REAL,
            p90_ms REAL, p99_ms REAL, fps REAL, dropped_30 INTEGER, dropped_60 INTEGER,
            load_ms REAL, source_stage_ms REAL, pss_mb REAL, temperature_before_c REAL,
            temperature_after_c REAL, record_json TEXT NOT NULL, UNIQUE(run_id, cell, serial));
        INSERT INTO runs VALUES ('old', '2026-01-01T00:00:00+00:00', '{}');
    """)
    old.execute("INSERT INTO records (run_id, cell, serial, created_utc, status, virtual, "
                "measured_on, dropped_30, dropped_60, record_json) VALUES "
                "('old', 'c', 's', 'now', 'ok', 1, 'device', 4, 9, ?)",
                (json.dumps({"status": "ok", "dropped_30": 4, "dropped_60": 9}),))
    old.commit()
    old.close()
    (record,) = Store(path).records(["old"])
    assert (record["over_budget_30"], record["over_budget_60"]) == (4, 9)
    assert "dropped_30" not in record
    columns = {r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(records)")}
    assert {"over_budget_30", "over_budget_60"} <= columns and "dropped_30" not in columns


def test_read_only_store_never_creates_a_file(tmp_path):
    with pytest.raises(MpkitError, match="no results database at .*missing.sqlite"):
        Store(tmp_path / "missing.sqlite", read_only=True)
    assert not (tmp_path / "missing.sqlite").exists()
    Store(tmp_path / "r.sqlite").create_run("run", {})
    reader = Store(tmp_path / "r.sqlite", read_only=True)
    assert reader.run_ids() == ["run"]
    with pytest.raises(MpkitError, match="read-only"):
        reader.create_run("other", {})


def test_a_file_that_is_not_a_database_is_a_clean_error(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(MpkitError, match="not an mpkit results database"):
        Store(path, read_only=True)
