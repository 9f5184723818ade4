"""What several commands share: messages to the user, --json, --adb/--virtual, name choices."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import click

from mpkit import logs


def say(message: str) -> None:
    """A progress line, warning or note for the user (stderr; third-party noise is logged)."""
    click.echo(message, file=logs.terminal())


def progress(message: str) -> None:
    say(f"... {message}")


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="print the result as JSON")(f)


def echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def adb_option(f):
    f = click.option("--virtual", is_flag=True,
                     help="use the adb server of the running virtual devices")(f)
    return click.option("--adb", metavar="HOST:PORT",
                        help="adb server to use (default $ANDROID_ADB_SERVER_PORT or 5037); "
                        "a remote one drives phones on another host")(f)


def resolve_adb(adb: str | None, virtual: bool) -> str | None:
    from mpkit.device.errors import NoDevice
    from mpkit.vdevice import control

    if not virtual:
        return adb
    if adb:
        raise click.UsageError("--adb and --virtual exclude each other")
    state = control.status()
    if state is None:
        raise NoDevice("no virtual devices running: start them with `mpkit vdevice start`")
    return f"127.0.0.1:{state['adb_port']}"


class Names(click.Choice):
    """click.Choice over a registry, read when a value is checked (data folders follow
    MPKIT_DATA_DIR), so a typo is a usage error that lists the valid names."""

    def __init__(self, names: Callable[[], Sequence[str]]):
        self._names = names
        super().__init__(())

    def _refresh(self) -> None:
        self.choices = tuple(self._names())

    def convert(self, value, param, ctx):
        self._refresh()
        return super().convert(value, param, ctx)

    def get_metavar(self, param, ctx):
        self._refresh()
        return super().get_metavar(param, ctx)


def _backends() -> list[str]:
    from mpkit.export.backends import BACKENDS

    return list(BACKENDS)


def _recipes() -> list[str]:
    from mpkit.export.recipes import recipe_names

    return recipe_names()


def _delegates() -> tuple[str, ...]:
    from mpkit.bench.protocol import DELEGATES

    return DELEGATES


BACKEND = Names(_backends)
RECIPE = Names(_recipes)
DELEGATE = Names(_delegates)
