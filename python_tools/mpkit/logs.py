"""Third-party noise (Python warnings, TF/absl/XNNPACK/cpuinfo logs, child processes' stderr)
goes to a log file; the terminal keeps what mpkit itself says. The CLI opens one per command;
MPKIT_DEBUG=1 turns it off."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

_PACKAGE = Path(__file__).resolve().parent
_terminal: TextIO | None = None


def debug() -> bool:
    return os.environ.get("MPKIT_DEBUG", "") not in ("", "0")


def terminal() -> TextIO:
    """Where progress, warnings and errors for the user go (the real stderr)."""
    return _terminal or sys.stderr


def _real_stderr_fd(stream: TextIO) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, io.UnsupportedOperation):
        return False


@contextmanager
def quiet(log: Path) -> Iterator[None]:
    """Everything written to stderr inside (by Python or native code, or by child processes
    that inherit it) goes to `log` (removed again when nothing came); mpkit's own warnings and
    `terminal()` still reach the user."""
    global _terminal
    if debug():
        yield
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    previous_stream, previous_terminal, previous_show = sys.stderr, _terminal, warnings.showwarning
    previous_stream.flush()
    saved_fd = os.dup(2)
    user = previous_terminal or previous_stream
    if _real_stderr_fd(user):  # the stream writes to fd 2, which is about to become the log
        user = open(os.dup(saved_fd), "w", buffering=1, closefd=True)
    with open(log, "w", buffering=1) as sink:
        os.dup2(sink.fileno(), 2)
        sys.stderr, _terminal = sink, user

        def show(message, category, filename, lineno, file=None, line=None):
            ours = Path(filename).resolve().is_relative_to(_PACKAGE)
            if ours:
                print(f"warning: {message}", file=user)
            else:
                previous_show(message, category, filename, lineno, sink, line)

        warnings.showwarning = show
        try:
            yield
        finally:
            warnings.showwarning = previous_show
            sys.stderr, _terminal = previous_stream, previous_terminal
            sink.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            if user is not previous_stream and user is not previous_terminal:
                user.close()
            with contextlib.suppress(FileNotFoundError):  # another run of the command removed it
                if not log.stat().st_size:
                    log.unlink()


@contextmanager
def native_stderr() -> Iterator[list[str]]:
    """The lines written to stderr inside, by native code on fd 2 or through Python's
    `sys.stderr` (where ExecuTorch's pybindings log), collected into the yielded list on exit
    (also when an exception leaves) and passed on to where stderr went before."""
    said: list[str] = []
    previous = sys.stderr
    previous.flush()
    saved_fd = os.dup(2)
    with tempfile.TemporaryFile() as sink, \
            open(os.dup(sink.fileno()), "w", buffering=1, closefd=True) as stream:
        os.dup2(sink.fileno(), 2)
        sys.stderr = stream
        try:
            yield said
        finally:
            stream.flush()
            sys.stderr = previous
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            sink.seek(0)
            text = sink.read(1 << 20).decode(errors="replace")
            previous.write(text)
            said.extend(line.strip() for line in text.splitlines() if line.strip())
