from __future__ import annotations

import json

import click

from mpkit.device import adb as device_lib
from mpkit.vdevice import control


def adb_option(f):
    f = click.option("--virtual", is_flag=True,
                     help="use the adb server of the running virtual devices")(f)
    return click.option("--adb", metavar="HOST:PORT",
                        help="adb server to use (default $ANDROID_ADB_SERVER_PORT or 5037); "
                        "a remote one drives phones on another host")(f)


def resolve_adb(adb: str | None, virtual: bool) -> str | None:
    if not virtual:
        return adb
    state = control.status()
    if state is None:
        raise click.UsageError("no virtual devices running: `mpkit vdevice start`")
    return f"127.0.0.1:{state['adb_port']}"


@click.group("devices")
def devices() -> None:
    """Phones (and virtual devices) seen by an adb server."""


@devices.command("list")
@adb_option
@click.option("--json", "as_json", is_flag=True)
def list_(adb, virtual, as_json):
    infos = device_lib.list_devices(resolve_adb(adb, virtual))
    rows = [{"serial": i.serial, "state": i.state, **i.tags} for i in infos]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['serial']:24} {r['state']:12} {r.get('model', '')}")
    if not rows:
        click.echo("no devices", err=True)


@devices.command("info")
@click.option("--serial", "-s")
@adb_option
@click.option("--json", "as_json", is_flag=True)
def info(serial, adb, virtual, as_json):
    d = device_lib.connect(serial, resolve_adb(adb, virtual)).info().as_dict()
    if as_json:
        click.echo(json.dumps(d, indent=2))
        return
    for k, v in d.items():
        click.echo(f"{k:16} {v}")


@click.group("vdevice")
def vdevice() -> None:
    """Virtual devices that real adb drives (no phone needed); figures they give are host-measured."""


@vdevice.command("start")
@click.option("--count", default=1, show_default=True)
@click.option("--adb-binary", help="adb to run the private server with (default: adbutils' adb)")
def start(count, adb_binary):
    state = control.start(count, adb_binary)
    click.echo(f"{len(state['serials'])} virtual device(s) on adb server 127.0.0.1:"
               f"{state['adb_port']}: {', '.join(state['serials'])}")
    click.echo(f"use --virtual, or: export ANDROID_ADB_SERVER_PORT={state['adb_port']}", err=True)


@vdevice.command("stop")
def stop():
    click.echo("stopped" if control.stop() else "not running")


@vdevice.command("status")
@click.option("--json", "as_json", is_flag=True)
def status(as_json):
    state = control.status()
    if as_json:
        click.echo(json.dumps(state))
    elif state is None:
        click.echo("not running")
    else:
        click.echo(f"running: adb server 127.0.0.1:{state['adb_port']}, "
                   f"devices {', '.join(state['serials'])}")


COMMANDS = [devices, vdevice]
