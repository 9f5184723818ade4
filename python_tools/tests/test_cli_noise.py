"""One real `mpkit demo` run: its terminal shows progress and results only (third-party chatter
goes to a log file), `--json` gives its results, and its records make both report formats."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

MPKIT = str(Path(sys.executable).with_name("mpkit"))
# Every stderr line must have one of these shapes: our progress, warnings and notes, tqdm bars,
# and the one line that says where the third-party messages went.
ALLOWED = re.compile(r"(\.\.\. |warning: |note: |third-party messages: |\w+: +\d+%\|).*")


def stderr_lines(text: str) -> list[str]:
    return [line for line in re.split(r"[\r\n]", text) if line.strip()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = subprocess.run([MPKIT, "demo", "-o", str(out), "--json"], capture_output=True,
                            text=True, cwd=out, timeout=3600)
    assert result.returncode == 0, result.stderr[-4000:]
    return out, result


@pytest.mark.slow
def test_demo_stderr_is_progress_and_results_only(demo):
    _, result = demo
    lines = stderr_lines(result.stderr)
    noise = [line for line in lines if not ALLOWED.fullmatch(line)]
    assert not noise, "\n".join(noise[:20])
    assert any(line.startswith("... exporting") for line in lines)
    log = Path(lines[-1].removeprefix("third-party messages: "))
    assert log.is_file() and "FutureWarning" in log.read_text()  # kept, not lost


@pytest.mark.slow
def test_demo_json_names_what_it_wrote(demo):
    out, result = demo
    data = json.loads(result.stdout)
    assert data["host_measured"] is True and len(data["bundles"]) == 3
    assert Path(data["report_html"]) == out / "report.html" and Path(data["video"]).is_file()


@pytest.mark.slow
def test_bench_report_format_follows_the_output_suffix(demo, tmp_path):
    out, _ = demo
    for name, start in (("r.md", "# mpkit benchmark"), ("r.html", "<!doctype html>")):
        result = subprocess.run([MPKIT, "bench", "report", "--db", str(out / "results.sqlite"),
                                 "-o", str(tmp_path / name)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert (tmp_path / name).read_text().lower().startswith(start.lower()), name
    result = subprocess.run([MPKIT, "bench", "report", "--db", str(out / "results.sqlite"),
                             "-o", str(tmp_path / "r.txt")], capture_output=True, text=True)
    assert result.returncode == 2 and "name it .md or .html" in result.stderr
