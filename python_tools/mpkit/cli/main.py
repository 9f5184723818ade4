"""The `mpkit` command: click groups, one file per group; no logic beyond argument handling."""

from __future__ import annotations

import sys

import click

from mpkit.errors import MpkitError


class MpkitGroup(click.Group):
    """Turns MpkitError into one clean line on stderr and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MpkitError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(e.exit_code)


@click.group(cls=MpkitGroup)
@click.version_option(package_name="mpkit")
def cli() -> None:
    """MobilePortrait head avatars: models, export, device benchmarks."""


def _register() -> None:
    from mpkit.cli import (
        animate, assets, bench, check, demo, deploy, devices, evaluate, export, landmarks, models,
        train,
    )

    for module in (assets, models, landmarks, animate, demo, train, evaluate, check, export, devices,
                   deploy, bench):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    cli()
