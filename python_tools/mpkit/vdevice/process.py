"""The virtual device's own processes: started so the user's folder cannot inject code, and
recognised again (by command line and start time) before anything signals them."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path


def module_command(module: str, *args: str) -> list[str]:
    """`python -P -m module args`: -P keeps the working folder off sys.path (a file named
    argparse.py there would otherwise run); unlike -I it keeps PYTHONPATH and the user site,
    which an installed mpkit may live in. Callers also start it in a folder of their own."""
    return [sys.executable, "-P", "-m", module, *args]


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks after boot, /proc/<pid>/stat field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces.
    return int(stat.rsplit(")", 1)[1].split()[19])


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def is_ours(pid: int, started: int | None, token: str) -> bool:
    """True only for the very process we started: its command line carries our token and it
    started when we recorded (a recycled PID has a different start time)."""
    return started is not None and start_time(pid) == started and token in cmdline(pid)


def kill_group(pid: int) -> None:
    """SIGKILL a process group we started with start_new_session (the daemon and its children)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
