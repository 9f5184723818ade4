"""Benchmark reports: tables and matplotlib plots of stored records, as Markdown or HTML."""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from mpkit.bench.protocol import StageTimes, SustainedPoint, validation_summary
from mpkit.bench.store import Store
from mpkit.errors import MpkitError
from mpkit.media.files import atomic_output

COLUMNS = [("device", "device"), ("model", "model_id"), ("backend", "backend"),
           ("precision", "precision"), ("delegate", "delegate"), ("driving", "driving"),
           ("p50 ms", "p50_ms"),
           ("p90 ms", "p90_ms"), ("p99 ms", "p99_ms"), ("FPS", "fps"),
           ("over 33.3 ms", "over_budget_30"), ("over 16.7 ms", "over_budget_60"),
           ("bridge ms", "bridge_ms_mean"), ("audio latency p50 ms", "audio_latency.p50_ms"),
           ("audio latency p99 ms", "audio_latency.p99_ms"), ("load ms", "load_ms"),
           ("source stage ms", "source_stage_ms"), ("PSS MB", "pss_mb"),
           ("quality PSNR dB", "quality.psnr_db_min"), ("quality SSIM", "quality.ssim_min")]


def _get(record: dict, key: str):
    for part in key.split("."):
        record = record.get(part) if isinstance(record, dict) else None
    return record


def _label(r: dict) -> str:
    return _plain(f"{r['model_id']} {r['backend']} {r['precision']} {r['delegate']}")


def _plain(text: str) -> str:
    """Text matplotlib shows as is (a `$` in a device string would start mathtext)."""
    return text.replace("$", r"\$")


def _md(text: str) -> str:
    """Device strings as Markdown text: no markup, links or table cells of their own."""
    return re.sub(r"([\\`*_{}\[\]()#+!|~$])", r"\\\1", html.escape(text)).replace("\n", " ")


def _device(r: dict) -> str:
    d = r.get("device", {})
    name = f"{d.get('model', '?')} ({r['serial']})"
    return f"{name}, virtual: host-measured" if r.get("virtual") else name


def _quality_by_delegate(records: list[dict]) -> tuple[list[str], list[list[str]]]:
    """On-device quality of each bundle per delegate, side by side (worst frame PSNR / SSIM;
    a bundle measured more than once shows its worst record)."""
    delegates = sorted({r["delegate"] for r in records if r.get("quality")})
    table: dict[tuple, dict[str, dict]] = {}
    for r in records:
        if r.get("quality"):
            cell = table.setdefault((r["model_id"], r["backend"], r["precision"]), {})
            old = cell.get(r["delegate"])
            if old is None or r["quality"]["psnr_db_min"] < old["psnr_db_min"]:
                cell[r["delegate"]] = r["quality"]
    head = ["bundle", *(f"{d}: PSNR dB / SSIM" for d in delegates)]
    rows = [[" ".join(key), *(f"{_fmt(q[d]['psnr_db_min'])} / {_fmt(q[d]['ssim_min'], 'ssim')}"
                              if d in q else "–" for d in delegates)]
            for key, q in sorted(table.items())]
    return head, rows


def _fmt(v, key: str = "") -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4f}" if "ssim" in key else f"{v:.1f}"  # SSIM lives just below 1
    return str(v)


def _plots(records: list[dict], folder: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    made = []

    def save(fig, name, title):
        path = folder / name
        fig.tight_layout()
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=110)
        plt.close(fig)
        made.append((title, f"{folder.name}/{name}"))

    fig, ax = plt.subplots(figsize=(8, 4))
    for r in records:
        ax.hist(r["result"]["times"]["frame_ms"], bins=30, alpha=0.55, label=_label(r))
    for budget, name in ((1000 / 30, "30 FPS"), (1000 / 60, "60 FPS")):
        ax.axvline(budget, color="k", ls="--", lw=0.8)
        ax.text(budget, ax.get_ylim()[1] * 0.95, f" {name}", fontsize=8)
    ax.set_xlabel("frame time (ms)")
    ax.set_ylabel("frames")
    ax.legend(fontsize=7)
    save(fig, "latency_hist.png", "Frame-time distribution")

    fig, ax = plt.subplots(figsize=(8, 4))
    names = sorted({c for r in records for c, v in r["result"]["times"]["component_ms"].items()
                    if v})  # frame-stage components only (source-stage ones ran before timing)
    width = 0.8 / max(len(records), 1)
    for i, r in enumerate(records):
        comp = r["result"]["times"]["component_ms"]
        means = [float(np.mean(comp[n])) if comp.get(n) else 0 for n in names]
        ax.bar(np.arange(len(names)) + i * width, means, width, label=_label(r))
    ax.set_xticks(np.arange(len(names)) + width * (len(records) - 1) / 2, names)
    ax.set_ylabel("mean ms per frame")
    ax.legend(fontsize=7)
    save(fig, "components.png", "Per-component time (frame stage)")

    by_device = defaultdict(list)
    for r in records:
        by_device[_device(r)].append(r)
    labels, values = [], []
    for dev, rows in by_device.items():
        for r in rows:
            labels.append(_plain(f"{dev.split(' (')[0]}\n{r['backend']} {r['precision']}"))
            values.append(r["p50_ms"])
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.45 * len(values)))
    ax.barh(labels, values, color="tab:blue", height=0.6)
    ax.set_xlabel("p50 frame time (ms)")
    save(fig, "runtime_ab.png", "Runtime A/B on the same device")

    rated = [r for r in records if r.get("quality")]
    if rated:
        fig, ax = plt.subplots(figsize=(8, 4))
        for i, r in enumerate(sorted(rated, key=lambda r: r["p50_ms"])):
            point = (r["p50_ms"], r["quality"]["psnr_db_min"])
            ax.scatter(*point, s=40)
            ax.annotate(_plain(f"{r['backend']} {r['precision']} {r['delegate']}"), point,
                        fontsize=7,
                        xytext=(4, 4 if i % 2 == 0 else -11), textcoords="offset points")
        ax.margins(0.2)  # room for the labels
        ax.set_xlabel("p50 frame time (ms)")
        ax.set_ylabel("on-device PSNR vs float host (dB, worst frame)")
        ax.grid(alpha=0.3)
        save(fig, "quality.png", "Quality per precision against speed")

    sustained = [r for r in records if r["result"].get("sustained")]
    if sustained:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax2 = ax.twinx()
        for r in sustained:
            pts = r["result"]["sustained"]
            ax.plot([p["minute"] for p in pts], [p["fps"] for p in pts], marker="o",
                    label=_label(r))
            temps = [p["temperature_c"] for p in pts]
            if any(t is not None for t in temps):
                ax2.plot([p["minute"] for p in pts], temps, ls="--")
        ax.set_xlabel("minute")
        ax.set_ylabel("FPS")
        ax2.set_ylabel("°C (dashed)")
        ax.legend(fontsize=7)
        save(fig, "sustained.png", "Sustained FPS and temperature")
    return made


def _load(store: Store, run_ids: list[str], warnings: list[str]) -> list[dict]:
    """Stored records; one that cannot be reported is skipped with a warning."""
    records = []
    for text, run_id, cell, serial in store.rows(run_ids):
        where = f"record {cell} on {serial} (run {run_id}) skipped"
        try:
            record = json.loads(text)
        except ValueError as e:
            warnings.append(f"{where}: not JSON ({e})")
            continue
        if not isinstance(record, dict):
            warnings.append(f"{where}: not a JSON object")
            continue
        record.update(run_id=run_id, cell=cell, serial=serial)
        if record.get("status") == "ok":
            problem = _unreportable(record)
            if problem:
                warnings.append(f"{where}: {problem}")
                continue
            bridge = record["result"]["times"].get("bridge_ms")
            record["bridge_ms_mean"] = float(np.mean(bridge)) if bridge else None
        records.append(record)
    return records


def _unreportable(r: dict) -> str | None:
    """Why an ok record cannot be tabulated and plotted, or None."""
    result = r.get("result")
    if not isinstance(result, dict):
        return "no result"
    try:
        StageTimes.model_validate(result.get("times"))
        for point in result.get("sustained") or []:
            SustainedPoint.model_validate(point)
    except ValidationError as e:
        return validation_summary(e)
    if not isinstance(r.get("p50_ms"), (int, float)):
        return "no p50_ms"
    missing = [k for k in ("model_id", "backend", "precision", "delegate") if k not in r]
    return f"missing {', '.join(missing)}" if missing else None


def write_report(store: Store, run_ids: list[str], out: Path, fmt: str,
                 warnings: list[str] | None = None) -> Path:
    """Writes the report; the records it skipped are described in `warnings`."""
    warnings = [] if warnings is None else warnings
    loaded = _load(store, run_ids, warnings)
    records = [r for r in loaded if r.get("status") == "ok"]
    failed = [r for r in loaded if r.get("status") != "ok"]
    if not records:
        raise MpkitError(f"no finished records for run(s) {', '.join(run_ids) or '(none)'} "
                         f"in {store.path}")
    plots = _plots(records, out.parent / f"{out.stem}_files")
    virtual = any(r.get("virtual") for r in records)
    title = f"mpkit benchmark: {', '.join(run_ids)}"
    note = ("Records from virtual devices are measured on this host with its CPU runtimes: "
            "they are not phone figures." if virtual else "Measured on the devices listed.")
    if any(r.get("timing_note") for r in records):
        note += (" GPU records from virtual devices ran LiteRT's real GPU accelerator on a "
                 "software Vulkan device (SwiftShader): placement and numerics are real, times "
                 "are not GPU speed.")
    if any(r["bridge_ms_mean"] is not None for r in records):
        note += (" Bridge ms is a virtual device's cost per frame of carrying tensors to the "
                 "host runtimes, inside its frame times; a phone has none.")
    note += (" Quality compares the frames the device rendered with the host's eager float "
             "pipeline on the same sample.")
    q_head, q_rows = _quality_by_delegate(records)
    rows = [[_device(r)] + [_fmt(_get(r, key), key) for _, key in COLUMNS[1:]] for r in records]
    if fmt == "md":
        lines = [f"# {_md(title)}", "", f"**{note}**", "",
                 "| " + " | ".join(h for h, _ in COLUMNS) + " |",
                 "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
        if q_rows:
            lines += ["", "## On-device quality per delegate", "",
                      "| " + " | ".join(q_head) + " |", "|" + "---|" * len(q_head)]
            lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in q_rows]
        lines += [""] + [f"## {t}\n\n![{t}]({p})\n" for t, p in plots]
        if failed:
            lines += ["## Failed cells", ""] + [
                f"- {_md(r['cell'])} on {_md(r['serial'])}: {_md(str(r.get('error')))}"
                for r in failed]
        text = "\n".join(lines) + "\n"
    else:
        head = "".join(f"<th>{html.escape(h)}</th>" for h, _ in COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                       for row in rows)
        quality = "" if not q_rows else (
            "<h2>On-device quality per delegate</h2><table><tr>"
            + "".join(f"<th>{html.escape(h)}</th>" for h in q_head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                      for row in q_rows) + "</table>")
        figures = "".join(f"<h2>{html.escape(t)}</h2><img src='{html.escape(p)}' "
                          f"alt='{html.escape(t)}'>"
                          for t, p in plots)
        fails = "".join(f"<li>{html.escape(r['cell'])} on {html.escape(r['serial'])}: "
                        f"{html.escape(str(r.get('error')))}</li>" for r in failed)
        text = (f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>"
                "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}"
                "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
                "padding:4px 8px;text-align:right}th{background:#eee}.note{background:#fff3cd;"
                "padding:8px;border:1px solid #e0c36c}img{max-width:100%}</style>"
                f"<h1>{html.escape(title)}</h1><p class='note'>{html.escape(note)}</p>"
                f"<table><tr>{head}</tr>{body}</table>{quality}{figures}"
                + (f"<h2>Failed cells</h2><ul>{fails}</ul>" if fails else ""))
    with atomic_output(out) as tmp:
        tmp.write_text(text)
    return out
