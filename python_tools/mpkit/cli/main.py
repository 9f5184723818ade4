"""The `mpkit` command: click groups, one file per group, each imported only when its command runs
(so the base install works without the optional backends); no logic beyond argument handling."""

from __future__ import annotations

import importlib
import sqlite3
import sys

import click

from mpkit import logs
from mpkit.errors import DeviceError, MpkitError

# command name -> "module:object" under mpkit.cli
COMMANDS = {
    "assets": "assets:assets",
    "models": "models:models",
    "landmarks": "landmarks:landmarks",
    "animate": "animate:animate",
    "demo": "demo:demo",
    "train": "train:train",
    "train-audio": "train:train_audio",
    "eval-audio": "train:eval_audio",
    "eval": "evaluate:evaluate",
    "check": "check:check",
    "export": "export:export",
    "bundle": "export:bundle",
    "devices": "devices:devices",
    "vdevice": "devices:vdevice",
    "deploy": "deploy:deploy",
    "bench": "bench:bench",
    "doctor": "doctor:doctor",
    "gpu": "gpu:gpu",
}


def clean_error(e: BaseException) -> MpkitError | None:
    """The user-facing error for a known failure from mpkit or a library it drives; None for
    anything else, which is a bug and keeps its traceback."""
    if isinstance(e, MpkitError):
        return e
    if isinstance(e, ModuleNotFoundError):
        from mpkit.doctor import missing_dependency

        return missing_dependency(e)
    if isinstance(e, sqlite3.DatabaseError):
        return MpkitError(f"results database: {e} (pass another --db)")
    adb_errors = sys.modules.get("adbutils.errors")
    if adb_errors is not None and isinstance(e, adb_errors.AdbError):
        return DeviceError(f"adb: {e}")
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(e, pydantic.ValidationError):
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}"
                             for err in e.errors())
        return MpkitError(f"invalid {e.title}: {problems}")
    return None


class MpkitGroup(click.Group):
    """Loads commands lazily, sends third-party noise to a log file, and turns known errors into
    one clean line on stderr and their exit code (MPKIT_DEBUG=1: the traceback as well)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(f"mpkit.cli.{module}"), attr)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["mpkit.command"] = next((a for a in args if not a.startswith("-")), "mpkit")
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        from mpkit.media.assets import cache_dir

        log = cache_dir() / "logs" / f"{ctx.meta['mpkit.command']}.log"
        try:
            with logs.quiet(log):
                result = super().invoke(ctx)
        except Exception as e:
            error = clean_error(e)
            if error is None or logs.debug():
                raise
            click.echo(f"error: {error}", err=True)
            sys.exit(error.exit_code)
        if log.is_file():
            click.echo(f"third-party messages: {log}", err=True)
        return result


@click.group(cls=MpkitGroup)
@click.version_option(package_name="mpkit")
def cli() -> None:
    """MobilePortrait head avatars: models, export, device benchmarks."""


def main() -> None:
    cli()
