from __future__ import annotations

import click

from mpkit import doctor as lib
from mpkit.cli.common import echo_json, json_option
from mpkit.errors import MpkitError


@click.command("doctor")
@json_option
def doctor(as_json: bool) -> None:
    """What this host has for mpkit, and the fix for what is missing; fails when the main job
    (`mpkit demo`) cannot run."""
    checks = lib.run()
    blocking = lib.blocking(checks)
    if as_json:
        echo_json({"ok": not blocking, "checks": [c.as_dict() for c in checks]})
    else:
        for c in checks:
            mark = "ok" if c.ok else ("MISSING" if c.needed else "no")
            click.echo(f"{mark:8} {c.area:8} {c.name:34} {c.detail}")
            if c.fix and not c.ok:
                click.echo(f"{'':18}fix: {c.fix}")
    if blocking:
        raise MpkitError(f"the main job cannot run: {', '.join(c.name for c in blocking)} "
                         "missing (fixes above)")
