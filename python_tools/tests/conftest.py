"""Shared fixtures: the real assets (fetched once, hash-checked) and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mpkit.cli.main import cli
from mpkit.media import assets


@pytest.fixture(scope="session")
def asset():
    """Fetches every asset once per session (a no-op when cached) and returns a path lookup."""
    assets.fetch()
    return assets.asset_path


@pytest.fixture()
def run_cli():
    """Runs `mpkit ARGS...` in-process; returns (exit code, stdout, stderr)."""

    def run(*args: str | Path):
        result = CliRunner().invoke(cli, [str(a) for a in args])
        return result.exit_code, result.stdout, result.stderr

    return run


@pytest.fixture(scope="session")
def face_photos(asset):
    return {name: asset(name) for name in assets.assets_of_kind("face")}
