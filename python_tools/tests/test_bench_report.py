"""Reports from stored records: device strings are data (escaped, never markup or mathtext),
bad records are skipped with a warning, frame counts over a budget are named so."""

import json
import re
import sqlite3
from pathlib import Path

from mpkit.bench.report import COLUMNS, write_report
from mpkit.bench.stats import summarize
from mpkit.bench.store import Store

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "protocol"
EVIL = "Phone $x^$ | <b>*Pro*</b> [link](http://e.x) `tick`"


def _record(model: str = "Pixel 8") -> dict:
    result = json.loads((TESTDATA / "result_ok.json").read_text())
    return {"status": "ok", "error": None, "virtual": 0, "measured_on": "device",
            "model_id": "mp-tiny", "backend": "tflite", "precision": "fp32", "delegate": "gpu",
            "bundle": "b", "repeat": 0, "result": result, "device": {"model": model},
            **summarize(result["times"]["frame_ms"]), "load_ms": 1.0, "source_stage_ms": 2.0}


def _store(tmp_path, *records) -> Store:
    store = Store(tmp_path / "r.sqlite")
    store.create_run("run", {})
    for i, r in enumerate(records):
        store.insert("run", f"c{i}", f"s{i}", r)
    return store


def test_over_budget_counts_are_named_for_what_they_are():
    stats = summarize([10.0, 20.0, 40.0])
    assert (stats["over_budget_30"], stats["over_budget_60"]) == (1, 2)
    assert not any(k.startswith("dropped") for k in stats)


def test_device_strings_are_escaped_and_do_not_crash_the_plots(tmp_path):
    store = _store(tmp_path, _record(EVIL), {**_record(), "status": "error", "error": EVIL})
    md = write_report(store, ["run"], tmp_path / "report.md", "md").read_text()
    row = next(line for line in md.splitlines() if "Phone" in line)
    assert len(re.split(r"(?<!\\)\|", row)) == len(COLUMNS) + 2  # `|` in the model: no column
    assert "<b>" not in md and "](http" not in md and "`tick`" not in md
    assert "| over 33.3 ms | over 16.7 ms |" in md
    assert (tmp_path / "report_files" / "runtime_ab.png").stat().st_size > 5000
    page = write_report(store, ["run"], tmp_path / "report.html", "html").read_text()
    assert "<b>*Pro*</b>" not in page and "&lt;b&gt;" in page


def test_a_malformed_record_is_skipped_with_a_warning(tmp_path):
    broken = _record()
    del broken["result"]["times"]["frame_ms"]
    store = _store(tmp_path, _record(), broken, _record())
    db = sqlite3.connect(store.path)
    db.execute("UPDATE records SET record_json='{not json' WHERE cell='c2'")
    db.commit()
    warnings = []
    out = write_report(Store(store.path, read_only=True), ["run"], tmp_path / "r.md", "md",
                       warnings)
    assert sum("Pixel 8" in line for line in out.read_text().splitlines()) == 1
    assert len(warnings) == 2 and all("skipped" in w for w in warnings)
    assert any("c1" in w and "frame_ms" in w for w in warnings)
    assert any("c2" in w and "not JSON" in w for w in warnings)


def test_the_bridge_cost_is_its_own_column_and_a_phone_has_none(tmp_path):
    virtual = _record("host (virtual device)")
    virtual["result"]["times"]["bridge_ms"] = [1.0, 2.0, 6.0]
    md = write_report(_store(tmp_path, virtual, _record()), ["run"], tmp_path / "r.md",
                      "md").read_text()
    bridge = [h for h, _ in COLUMNS].index("bridge ms") + 1
    cells = {row.split("|")[1].strip().split(" ")[0]: row.split("|")[bridge].strip()
             for row in md.splitlines() if re.match(r"\| (host|Pixel) ", row)}
    assert cells == {"host": "3.0", "Pixel": "–"}
    assert "Bridge ms is a virtual device's cost per frame" in md
