from __future__ import annotations

from pathlib import Path

import click

from mpkit.cli.common import adb_option, echo_json, json_option, resolve_adb
from mpkit.device import adb as device_lib
from mpkit.device.deploy import deploy as deploy_bundle


@click.command("deploy")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--serial", "-s")
@adb_option
@click.option("--apk", type=click.Path(path_type=Path), help="install this app build too")
@json_option
def deploy(bundle, serial, adb, virtual, apk, as_json):
    """Push BUNDLE to a content-addressed folder on the device and verify it there."""
    device = device_lib.connect(serial, resolve_adb(adb, virtual))
    remote, pushed = deploy_bundle(device, bundle, apk)
    if as_json:
        echo_json({"serial": device.serial, "remote": remote, "pushed": pushed, "verified": True})
        return
    click.echo(f"{device.serial}:{remote} ({'pushed' if pushed else 'already there'}, verified)")
