from __future__ import annotations

import click

from mpkit.cli.common import adb_option, echo_json, json_option, resolve_adb, say
from mpkit.device import adb as device_lib
from mpkit.vdevice import control


@click.group("devices")
def devices() -> None:
    """Phones (and virtual devices) seen by an adb server."""


@devices.command("list")
@adb_option
@json_option
def list_(adb, virtual, as_json):
    infos = device_lib.list_devices(resolve_adb(adb, virtual))
    rows = [{"serial": i.serial, "state": i.state, **i.tags} for i in infos]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['serial']:24} {r['state']:12} {r.get('model', '')}")
    if not rows:
        say("no devices")


@devices.command("info")
@click.option("--serial", "-s")
@adb_option
@json_option
def info(serial, adb, virtual, as_json):
    d = device_lib.connect(serial, resolve_adb(adb, virtual)).info().as_dict()
    if as_json:
        echo_json(d)
        return
    for k, v in d.items():
        click.echo(f"{k:16} {v}")


@click.group("vdevice")
def vdevice() -> None:
    """Virtual devices that real adb drives (no phone needed); their figures are host-measured."""


@vdevice.command("start")
@click.option("--count", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--adb-binary", help="adb to run the private server with (default: adbutils' adb)")
@json_option
def start(count, adb_binary, as_json):
    state = control.start(count, adb_binary)
    if as_json:
        echo_json(state)
        return
    click.echo(f"{len(state['serials'])} virtual device(s) on adb server 127.0.0.1:"
               f"{state['adb_port']}: {', '.join(state['serials'])}")
    say(f"use --virtual, or: export ANDROID_ADB_SERVER_PORT={state['adb_port']}")


@vdevice.command("stop")
def stop():
    click.echo("stopped" if control.stop() else "not running")


@vdevice.command("status")
@json_option
def status(as_json):
    state = control.status()
    if as_json:
        echo_json(state)
    elif state is None:
        click.echo("not running")
    else:
        click.echo(f"running: adb server 127.0.0.1:{state['adb_port']}, "
                   f"devices {', '.join(state['serials'])}")
