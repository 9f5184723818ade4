from __future__ import annotations

import click

from mpkit.cli.common import echo_json, json_option, say
from mpkit.gpu import software as lib


@click.group("gpu")
def gpu() -> None:
    """The software GPU that runs LiteRT's real GPU accelerator on this host."""


@gpu.command("setup")
def setup() -> None:
    """Extract SwiftShader's Vulkan driver from Debian's chromium-common into the cache."""
    state = lib.setup()
    say(f"software GPU ready: SwiftShader from {lib.PACKAGE} {state.package_version} "
        f"({state.driver})")


@gpu.command("status")
@json_option
def status(as_json: bool) -> None:
    """Whether the Vulkan loader and the SwiftShader driver are there, and what is missing."""
    state = lib.status()
    if as_json:
        echo_json(state.as_dict())
        return
    if state.ready:
        click.echo(f"ready: SwiftShader from {lib.PACKAGE} {state.package_version}; "
                   f"{lib.TIMING_LABEL}")
    else:
        click.echo(f"not ready: {state.problem}")
