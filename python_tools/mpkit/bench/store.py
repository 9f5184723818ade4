"""Results store: SQLite in WAL mode, one row per record inserted the moment it arrives."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, created_utc TEXT NOT NULL, spec_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    cell TEXT NOT NULL,
    serial TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    status TEXT NOT NULL,
    virtual INTEGER NOT NULL,
    measured_on TEXT NOT NULL,
    model_id TEXT, backend TEXT, precision TEXT, delegate TEXT, bundle TEXT,
    manifest_sha256 TEXT,
    p50_ms REAL, p90_ms REAL, p99_ms REAL, fps REAL, dropped_30 INTEGER, dropped_60 INTEGER,
    load_ms REAL, source_stage_ms REAL, pss_mb REAL,
    temperature_before_c REAL, temperature_after_c REAL,
    record_json TEXT NOT NULL,
    UNIQUE(run_id, cell, serial)
);
"""
COLUMNS = ("status", "virtual", "measured_on", "model_id", "backend", "precision", "delegate",
           "bundle", "manifest_sha256", "p50_ms", "p90_ms", "p99_ms", "fps", "dropped_30",
           "dropped_60", "load_ms", "source_stage_ms", "pss_mb", "temperature_before_c",
           "temperature_after_c")


class Store:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def create_run(self, run_id: str, spec: dict) -> None:
        with self.db:
            self.db.execute("INSERT OR IGNORE INTO runs VALUES (?, ?, ?)",
                            (run_id, _now(), json.dumps(spec)))

    def run_spec(self, run_id: str) -> dict | None:
        row = self.db.execute("SELECT spec_json FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def done_cells(self, run_id: str, serial: str) -> set[str]:
        rows = self.db.execute("SELECT cell FROM records WHERE run_id=? AND serial=? AND "
                               "status='ok'", (run_id, serial))
        return {r[0] for r in rows}

    def insert(self, run_id: str, cell: str, serial: str, record: dict) -> None:
        values = [record.get(c) for c in COLUMNS]
        with self.db:
            self.db.execute(
                f"INSERT OR REPLACE INTO records (run_id, cell, serial, created_utc, "
                f"{', '.join(COLUMNS)}, record_json) VALUES (?, ?, ?, ?, "
                f"{', '.join('?' * len(COLUMNS))}, ?)",
                (run_id, cell, serial, _now(), *values, json.dumps(record)))

    def records(self, run_ids: list[str] | None = None) -> list[dict]:
        query = "SELECT record_json, run_id, cell, serial FROM records"
        args: tuple = ()
        if run_ids:
            query += f" WHERE run_id IN ({', '.join('?' * len(run_ids))})"
            args = tuple(run_ids)
        return [{**json.loads(r[0]), "run_id": r[1], "cell": r[2], "serial": r[3]}
                for r in self.db.execute(query + " ORDER BY id", args)]

    def run_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT run_id FROM runs ORDER BY created_utc")]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
