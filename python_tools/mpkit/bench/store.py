"""Results store: SQLite in WAL mode, one row per record inserted the moment it arrives.
Each thread gets its own connection (device workers insert at once); every commit is synced."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from mpkit.errors import MpkitError

SCHEMA_VERSION = 2  # 2: dropped_30/60 renamed over_budget_30/60 (frames over a budget)
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
    p50_ms REAL, p90_ms REAL, p99_ms REAL, fps REAL, over_budget_30 INTEGER,
    over_budget_60 INTEGER,
    load_ms REAL, source_stage_ms REAL, pss_mb REAL,
    temperature_before_c REAL, temperature_after_c REAL,
    record_json TEXT NOT NULL,
    UNIQUE(run_id, cell, serial)
);
"""
COLUMNS = ("status", "virtual", "measured_on", "model_id", "backend", "precision", "delegate",
           "bundle", "manifest_sha256", "p50_ms", "p90_ms", "p99_ms", "fps", "over_budget_30",
           "over_budget_60", "load_ms", "source_stage_ms", "pss_mb", "temperature_before_c",
           "temperature_after_c")
RENAMED = {"dropped_30": "over_budget_30", "dropped_60": "over_budget_60"}  # 1 -> 2
BUSY_S = 30.0


class Store:
    def __init__(self, path: Path, read_only: bool = False):
        self.path, self.read_only = path, read_only
        self._local = threading.local()
        if read_only and not path.is_file():
            raise MpkitError(f"no results database at {path}: run `mpkit bench run` first or "
                             "pass --db")
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        with self._errors():
            self._setup()

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must not be shared by threads)."""
        db = getattr(self._local, "db", None)
        if db is None:
            if self.read_only:
                db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                     timeout=BUSY_S)
            else:
                db = sqlite3.connect(self.path, timeout=BUSY_S)
                db.execute("PRAGMA synchronous=FULL")  # a committed record survives a power cut
            self._local.db = db
        return db

    def _setup(self) -> None:
        if self.read_only:
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master")}
            if not {"runs", "records"} <= tables:
                raise MpkitError(f"{self.path} is not an mpkit results database")
            if version < SCHEMA_VERSION:
                raise MpkitError(f"{self.path} has schema version {version}; open it once "
                                 "with `mpkit bench run` (read-write) to migrate it")
            return
        # Another process may be creating the same fresh file right now: SQLite then answers
        # "locked" at once, without waiting (the journal mode switch takes no busy timeout).
        deadline = time.monotonic() + BUSY_S
        while True:
            try:
                self._create()
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _create(self) -> None:
        if self.db.execute("PRAGMA journal_mode=WAL").fetchall() != [("wal",)]:  # finalized
            raise sqlite3.OperationalError("journal mode not switched to WAL: database is locked")
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise MpkitError(f"{self.path} has schema version {version}, newer than this "
                                 f"mpkit's {SCHEMA_VERSION}: update mpkit")
            columns = {r[1] for r in db.execute("PRAGMA table_info(records)")}
            for table_sql in SCHEMA.split(";")[:-1]:
                db.execute(table_sql)
            if "dropped_30" in columns:
                _migrate_v1(db)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken before the first read (no lock upgrade deadlock)."""
        if self.read_only:
            raise MpkitError(f"{self.path} is open read-only")
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.rollback()
            raise
        db.commit()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as e:
            if "not a database" in str(e) or "malformed" in str(e):
                raise MpkitError(f"{self.path} is not an mpkit results database ({e})") from e
            raise MpkitError(f"{self.path}: {e}") from e

    def create_run(self, run_id: str, spec: dict) -> None:
        with self._errors(), self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO runs VALUES (?, ?, ?)",
                       (run_id, _now(), json.dumps(spec)))

    def run_spec(self, run_id: str) -> dict | None:
        with self._errors():
            row = self.db.execute("SELECT spec_json FROM runs WHERE run_id=?",
                                  (run_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def done_cells(self, run_id: str, serial: str) -> set[str]:
        with self._errors():
            rows = self.db.execute("SELECT cell FROM records WHERE run_id=? AND serial=? AND "
                                   "status='ok'", (run_id, serial)).fetchall()
        return {r[0] for r in rows}

    def insert(self, run_id: str, cell: str, serial: str, record: dict) -> None:
        values = [record.get(c) for c in COLUMNS]
        with self._errors(), self._transaction() as db:
            db.execute(
                f"INSERT OR REPLACE INTO records (run_id, cell, serial, created_utc, "
                f"{', '.join(COLUMNS)}, record_json) VALUES (?, ?, ?, ?, "
                f"{', '.join('?' * len(COLUMNS))}, ?)",
                (run_id, cell, serial, _now(), *values, json.dumps(record)))

    def rows(self, run_ids: list[str] | None = None) -> list[tuple[str, str, str, str]]:
        """(record_json, run_id, cell, serial) in insertion order; the JSON is not parsed."""
        query = "SELECT record_json, run_id, cell, serial FROM records"
        args: tuple = ()
        if run_ids:
            query += f" WHERE run_id IN ({', '.join('?' * len(run_ids))})"
            args = tuple(run_ids)
        with self._errors():
            return self.db.execute(query + " ORDER BY id", args).fetchall()

    def records(self, run_ids: list[str] | None = None) -> list[dict]:
        return [{**json.loads(r[0]), "run_id": r[1], "cell": r[2], "serial": r[3]}
                for r in self.rows(run_ids)]

    def run_ids(self) -> list[str]:
        with self._errors():
            rows = self.db.execute("SELECT run_id FROM runs ORDER BY created_utc").fetchall()
        return [r[0] for r in rows]


def _migrate_v1(db: sqlite3.Connection) -> None:
    for old, new in RENAMED.items():
        db.execute(f"ALTER TABLE records RENAME COLUMN {old} TO {new}")
    for rowid, text in db.execute("SELECT id, record_json FROM records").fetchall():
        record = json.loads(text)
        for old, new in RENAMED.items():
            if old in record:
                record[new] = record.pop(old)
        db.execute("UPDATE records SET record_json=? WHERE id=?", (json.dumps(record), rowid))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
