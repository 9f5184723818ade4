"""The benchmark scripts say what they measure: the harness benchmark measures the harness's
overhead on this host (two host runs of the same code), never a phone figure."""

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


def test_the_harness_benchmark_says_it_measures_host_overhead_not_phones():
    out = subprocess.run([sys.executable, str(BENCHMARKS / "harness.py"), "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "harness's own overhead on this host" in out
    source = (BENCHMARKS / "harness.py").read_text()
    assert "distort" not in source
    assert "phones are not measured here" in source
