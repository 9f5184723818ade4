"""Where the data folders `models/` and `quantization/` are: $MPKIT_DATA_DIR, else the copy a
wheel ships inside the package (mpkit/_data, put there by setup.py), else the source checkout."""

from __future__ import annotations

import os
from pathlib import Path

from mpkit.errors import MpkitError

PACKAGED = Path(__file__).resolve().parent / "_data"
CHECKOUT = Path(__file__).resolve().parent.parent.parent  # python_tools/mpkit -> repository


def data_dir() -> Path:
    env = os.environ.get("MPKIT_DATA_DIR")
    candidates = [Path(env)] if env else [PACKAGED, CHECKOUT]
    for root in candidates:
        if (root / "models").is_dir():
            return root
    raise MpkitError(f"no mpkit data folder (models/ and quantization/) at "
                     f"{' or '.join(map(str, candidates))}: set MPKIT_DATA_DIR to one, or "
                     "reinstall mpkit")
