"""YAML files validated by pydantic models: errors name the file and every offending key."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mpkit.errors import MpkitError

T = TypeVar("T", bound=BaseModel)


def load_yaml(cls: type[T], path: Path) -> T:
    try:
        data = yaml.safe_load(path.read_text())
        return cls(**(data or {}))
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise MpkitError(f"{path}: {problems}") from e
    except (yaml.YAMLError, TypeError) as e:
        raise MpkitError(f"{path}: not a YAML mapping ({e})") from e
