"""Parsers for `dumpsys` and friends: plain functions from text to figures (None = unknown)."""

from __future__ import annotations

import re


def thermal_celsius(text: str) -> dict[str, float]:
    """`dumpsys thermalservice`: the HAL temperatures by sensor name."""
    out = {}
    for m in re.finditer(r"Temperature\{mValue=(-?[\d.]+), mType=-?\d+, mName=([^,}]+)", text):
        out[m.group(2).strip()] = float(m.group(1))
    return out


def battery(text: str) -> dict[str, float | bool | None]:
    """`dumpsys battery`: level (%), temperature (°C), present."""
    def field(name):
        m = re.search(rf"^\s*{name}:\s*(-?\d+)", text, re.M)
        return int(m.group(1)) if m else None

    level, temp = field("level"), field("temperature")
    present = re.search(r"^\s*present:\s*true", text, re.M) is not None
    return {"present": present, "level_pct": level if present and level is not None and level >= 0
            else None, "temperature_c": temp / 10 if present and temp not in (None, -1) else None}


def pss_mb(text: str) -> float | None:
    """`dumpsys meminfo <pkg>`: TOTAL PSS in MB."""
    m = re.search(r"TOTAL PSS:\s*(\d+)", text) or re.search(r"^\s*TOTAL\s+(\d+)", text, re.M)
    return int(m.group(1)) / 1024 if m else None


def free_storage_mb(df_text: str) -> float | None:
    """`df /data`: available space in MB (1K blocks)."""
    lines = [ln.split() for ln in df_text.strip().splitlines()[1:]]
    for parts in lines:
        if len(parts) >= 4 and parts[3].isdigit():
            return int(parts[3]) / 1024
    return None


def fatal_exception(logcat: str, package: str) -> list[str] | None:
    """The lines of the last `FATAL EXCEPTION` block in `logcat -d` whose `Process:` line names
    `package` (or one of its `package:name` processes); None when that app did not crash. A
    crash of another process is not this app's, whatever else the log mentions."""
    blocks: list[list[str]] = []
    block = None
    for line in logcat.splitlines():
        if "AndroidRuntime" in line and "FATAL EXCEPTION" in line:
            block = [line]
            blocks.append(block)
        elif block is not None and "AndroidRuntime" in line:
            block.append(line)
        else:
            block = None
    crashes = [b for b in blocks if _crashed(b, package)]
    return crashes[-1] if crashes else None


def _crashed(block: list[str], package: str) -> bool:
    m = next((re.search(r"Process: ([^\s,]+), PID: \d+", ln) for ln in block[1:3]
              if "Process:" in ln), None)
    return m is not None and m.group(1).split(":")[0] == package
