"""Shared fixtures: the real assets (fetched once, hash-checked) and a CLI runner."""

from __future__ import annotations

import socket
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


@pytest.fixture()
def free_port():
    """A TCP port on 127.0.0.1 nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def listening():
    """Whether something accepts connections on a 127.0.0.1 port."""

    def check(port: int) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    return check
