"""A virtual Android device: its folder, properties, packages, trusted adb keys, faults, and the
commands its shell answers. Everything a harness reads says it is virtual; host figures are
labelled so, and what the host cannot know (Android version, screen) is absent or "unknown"."""

from __future__ import annotations

import asyncio
import hashlib
import platform
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mpkit import __version__
from mpkit.bench.protocol import APP_PACKAGE, BENCH_ACTIVITY, RESULTS_DIR, BenchRequest
from mpkit.gpu import software
from mpkit.vdevice import auth
from mpkit.vdevice.process import kill_group
from mpkit.vdevice.shell import Command, Result, Shell, tokenize
from mpkit.vdevice.sync import SyncService
from mpkit.vdevice.transport import Service, Stream

FEATURES = "shell_v2,cmd,stat_v2,fixed_push_mkdir,apex,fixed_push_symlink_timestamp"
ABIS = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64-v8a", "arm64": "arm64-v8a"}


@dataclass
class Faults:
    """Injected for tests: each is off by default."""

    storage_limit_bytes: int | None = None  # pushes beyond this fail with ENOSPC
    drop_link_on: str | None = None  # drop the connection when a command contains this
    drop_link_after_bytes: int | None = None  # drop it mid-push, after this many bytes arrived
    hang_on: str | None = None  # never answer a command that contains this
    delay_s: float = 0.0  # answer every command this much later
    crash_app: bool = False  # the benchmark activity dies before writing a result


@dataclass
class VirtualDevice:
    root: Path
    serial: str
    model: str = "VirtualPhone"
    faults: Faults = field(default_factory=Faults)
    # The benchmark app comes preinstalled: the virtual device implements its protocol itself.
    packages: dict[str, str] = field(default_factory=lambda: {APP_PACKAGE: "built-in"})
    on_drop: list = field(default_factory=list)  # callbacks that drop the live transports
    workers: list = field(default_factory=list)  # apps `am start` started (JVM + bridge)
    # The adb keys this device accepts (a phone's /data/misc/adb/adb_keys): none = unauthorized.
    trusted_keys: list[auth.PublicKey] = field(default_factory=auth.user_keys)

    def __post_init__(self):
        for folder in ("data/local/tmp", "sdcard", f"data/data/{APP_PACKAGE}/files"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)

    # -- identity ------------------------------------------------------------------------
    @property
    def props(self) -> dict[str, str]:
        return {
            "ro.product.model": self.model, "ro.product.name": "vdev",
            "ro.product.device": "vdev", "ro.product.manufacturer": "mpkit",
            "ro.product.brand": "mpkit", "ro.serialno": self.serial,
            "ro.product.cpu.abi": ABIS.get(platform.machine().lower(), platform.machine()),
            "ro.hardware": "virtual", "ro.soc.manufacturer": "host",
            "ro.soc.model": platform.processor() or platform.machine(),
            # No Android runs here: no ro.build.version.* props, and none in the fingerprint.
            "ro.build.fingerprint": f"mpkit/vdev/virtual/{__version__}:user/virtual",
            "ro.kernel.qemu": "0", "ro.mpkit.virtual": "1",
        }

    def banner(self) -> bytes:
        props = ";".join(f"{k}={self.props[k]}" for k in
                         ("ro.product.name", "ro.product.model", "ro.product.device"))
        return f"device::{props};features={FEATURES}".encode()

    # -- files -----------------------------------------------------------------------------
    def resolve(self, path: str, cwd: str = "/") -> Path | None:
        """A device path inside this device's folder; None if it would leave it."""
        p = PurePosixPath(cwd) / path
        parts = []
        for part in p.parts[1:]:
            if part == "..":
                if not parts:
                    return None
                parts.pop()
            elif part not in (".", ""):
                parts.append(part)
        return self.root.joinpath(*parts)

    def used_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file())

    def check_space(self, extra: int) -> None:
        limit = self.faults.storage_limit_bytes
        if limit is not None and self.used_bytes() + extra > limit:
            raise OSError(28, "No space left on device")

    def read(self, path: str) -> bytes:
        local = self.resolve(path)
        return local.read_bytes() if local and local.is_file() else b""

    def write(self, path: str, data: bytes, append: bool = False) -> None:
        local = self.resolve(path)
        if local is not None:
            local.parent.mkdir(parents=True, exist_ok=True)
            with open(local, "ab" if append else "wb") as f:
                f.write(data)

    # -- services --------------------------------------------------------------------------
    def open_service(self, name: str) -> Service | None:
        if name == "sync:":
            return SyncService(self)
        if name.startswith("shell"):
            head, _, command = name.partition(":")
            return self._shell_service(command, v2="v2" in head.split(","))
        if name.startswith("exec:"):
            return self._exec_service(name[len("exec:"):])
        return None

    def _shell_service(self, command: str, v2: bool) -> Service:
        from mpkit.vdevice.protocol import EXIT, STDERR, STDOUT, shell_packet

        async def serve(stream: Stream) -> None:
            result = await self.run(command)
            if v2:
                packets = b""
                if result.out:
                    packets += shell_packet(STDOUT, result.out)
                if result.err:
                    packets += shell_packet(STDERR, result.err)
                await stream.write(packets + shell_packet(EXIT, bytes([result.rc & 0xFF])))
            else:
                await stream.write(result.out + result.err)

        return serve

    def _exec_service(self, command: str) -> Service:
        async def serve(stream: Stream) -> None:
            parts = tokenize(command)
            if parts[:3] == ["cmd", "package", "install"] and "-S" in parts:
                await stream.write(await self._install_streamed(
                    stream, int(parts[parts.index("-S") + 1])))
                return
            result = await self.run(command)
            await stream.write(result.out + result.err)

        return serve

    async def _install_streamed(self, stream: Stream, size: int) -> bytes:
        """`cmd package install -S size`: the APK is hashed as it arrives, never held whole."""
        digest, head, left = hashlib.sha256(), b"", size
        while left > 0:
            block = await stream.read_exactly(min(left, 64 * 1024))
            digest.update(block)
            head = head or block[:2]
            left -= len(block)
        return self.install(head, digest.hexdigest())

    async def drop_link(self) -> None:
        """Drops every connection to this device and never answers again (a pulled cable)."""
        for drop in list(self.on_drop):
            await drop()
        await asyncio.Event().wait()

    async def check_transfer(self, received: int) -> None:
        """Called by the sync service as push data arrives."""
        limit = self.faults.drop_link_after_bytes
        if limit is not None and received >= limit:
            await self.drop_link()

    # -- commands --------------------------------------------------------------------------
    async def run(self, line: str, cwd: str = "/") -> Result:
        f = self.faults
        if f.delay_s:
            await asyncio.sleep(f.delay_s)
        if f.hang_on and f.hang_on in line:
            await asyncio.Event().wait()
        if f.drop_link_on and f.drop_link_on in line:
            await self.drop_link()
        return await Shell(lambda name: self._command(name, cwd), _Files(self, cwd)).run(line)

    def _command(self, name: str, cwd: str) -> Command | None:
        table = Commands(self, cwd)
        return getattr(table, f"cmd_{name.replace('-', '_')}", None)

    def launch_benchmark(self, extras: dict) -> None:
        """The app's BenchmarkActivity: the Kotlin core's benchmark on the host JVM (its models
        on the host runtimes) writes files/bench/<run_id>.json."""
        import subprocess

        from mpkit.vdevice import app

        request = BenchRequest(**extras)
        results = self.root / "data/data" / APP_PACKAGE / RESULTS_DIR
        results.mkdir(parents=True, exist_ok=True)
        if self.faults.crash_app:
            self.log("E AndroidRuntime: FATAL EXCEPTION: main\nE AndroidRuntime: Process: "
                     f"{APP_PACKAGE}, PID: 4242\nE AndroidRuntime: java.lang.IllegalStateException:"
                     " injected crash (virtual device fault)")
            return
        bundle = self.resolve(request.bundle_dir)
        if bundle is None:
            raise ValueError(f"bundle_dir {request.bundle_dir!r} is outside the device")
        env = None
        if request.delegate == "gpu" and software.status().ready:
            env = software.child_env()  # the app's GPU accelerator: the software Vulkan device
        with open(results / f"{request.run_id}.log", "w") as log:
            # Its own process group: `am force-stop` ends the JVM and its tensor bridge at once.
            self.workers.append(subprocess.Popen(
                app.benchmark_command(request.extras(), bundle, results),
                stdout=log, stderr=log, cwd=results.parent, env=env, start_new_session=True))

    def app_pid(self) -> int | None:
        """The running app (its JVM; the bridge is its child), if any."""
        live = [w for w in self.workers if w.poll() is None]
        return live[-1].pid if live else None

    def stop_workers(self) -> int:
        """`am force-stop`: kills the app processes; returns how many runs were live."""
        live = [w for w in self.workers if w.poll() is None]
        for w in self.workers:
            kill_group(w.pid)  # the bridge too, even once the JVM has ended
        for w in self.workers:
            w.wait()
        self.workers.clear()
        return len(live)

    def log(self, text: str) -> None:
        with open(self.root / "logcat.txt", "a") as f:
            f.write(text + "\n")

    def install(self, head: bytes, sha256: str) -> bytes:
        """Installs an APK given its first bytes and its hash (the stand-in app's identity)."""
        if not head.startswith(b"PK"):
            return b"Failure [INSTALL_PARSE_FAILED_NOT_APK: not an APK]\n"
        self.packages[APP_PACKAGE] = sha256
        return b"Success\n"


@dataclass
class _Files:
    """Redirections relative to the shell's working folder."""

    device: VirtualDevice
    cwd: str

    def read(self, path: str) -> bytes:
        local = self.device.resolve(path, self.cwd)
        return local.read_bytes() if local and local.is_file() else b""

    def write(self, path: str, data: bytes, append: bool = False) -> None:
        local = self.device.resolve(path, self.cwd)
        if local is not None:
            local.parent.mkdir(parents=True, exist_ok=True)
            with open(local, "ab" if append else "wb") as fh:
                fh.write(data)


class Commands:
    """The commands the virtual shell knows; each returns a Result."""

    def __init__(self, device: VirtualDevice, cwd: str):
        self.d, self.cwd = device, cwd

    def _path(self, p: str) -> Path | None:
        return self.d.resolve(p, self.cwd)

    async def cmd_true(self, args, stdin):
        return Result()

    async def cmd_false(self, args, stdin):
        return Result(rc=1)

    async def cmd_echo(self, args, stdin):
        return Result((" ".join(args) + "\n").encode())

    async def cmd_getprop(self, args, stdin):
        props = self.d.props
        if args:
            return Result((props.get(args[0], "") + "\n").encode())
        return Result("".join(f"[{k}]: [{v}]\n" for k, v in sorted(props.items())).encode())

    async def cmd_id(self, args, stdin):
        return Result(b"uid=2000(shell) gid=2000(shell)\n")

    def _each_file(self, command: str, args: list[str], produce) -> Result:
        """Runs `produce(path, local)` per file argument; missing files are errors."""
        out, err, rc = b"", b"", 0
        for a in args:
            p = self._path(a)
            if p is None or not p.is_file():
                err += f"{command}: {a}: No such file or directory\n".encode()
                rc = 1
            else:
                out += produce(a, p)
        return Result(out, err, rc)

    async def cmd_cat(self, args, stdin):
        if not args:
            return Result(stdin)
        return self._each_file("cat", args, lambda a, p: p.read_bytes())

    async def cmd_ls(self, args, stdin):
        paths = [a for a in args if not a.startswith("-")] or ["."]
        out, err, rc = [], b"", 0
        for a in paths:
            p = self._path(a)
            if p is None or not p.exists():
                err += f"ls: {a}: No such file or directory\n".encode()
                rc = 1
            elif p.is_dir():
                out += sorted(e.name for e in p.iterdir())
            else:
                out.append(a)
        return Result("".join(f"{n}\n" for n in out).encode(), err, rc)

    async def cmd_mkdir(self, args, stdin):
        for a in (a for a in args if not a.startswith("-")):
            p = self._path(a)
            if p is None:
                return Result(err=f"mkdir: {a}: Permission denied\n".encode(), rc=1)
            p.mkdir(parents=True, exist_ok=True)
        return Result()

    async def cmd_chmod(self, args, stdin):
        recursive = "-R" in args
        rest = [a for a in args if a != "-R"]
        if len(rest) < 2:
            return Result(err=b"chmod: needs a MODE and a FILE\n", rc=1)
        spec, err, rc = rest[0], b"", 0
        for a in rest[1:]:
            p = self._path(a)
            if p is None or not p.exists():
                err += f"chmod: {a}: No such file or directory\n".encode()
                rc = 1
                continue
            for q in [p, *(sorted(p.rglob("*")) if recursive and p.is_dir() else [])]:
                mode = chmod_mode(q.stat().st_mode & 0o7777, q.is_dir(), spec)
                if mode is None:
                    return Result(err=f"chmod: bad mode '{spec}'\n".encode(), rc=1)
                q.chmod(mode)
        return Result(err=err, rc=rc)

    async def cmd_cp(self, args, stdin):
        paths = [a for a in args if not a.startswith("-")]
        if len(paths) != 2:
            return Result(err=b"cp: needs a source and a destination\n", rc=1)
        src, dst = (self._path(a) for a in paths)
        if src is None or not src.is_file():
            return Result(err=f"cp: {paths[0]}: No such file or directory\n".encode(), rc=1)
        if dst is None or not dst.parent.is_dir():
            return Result(err=f"cp: {paths[1]}: No such file or directory\n".encode(), rc=1)
        shutil.copyfile(src, dst / src.name if dst.is_dir() else dst)
        return Result()

    async def cmd_rm(self, args, stdin):
        force = any(a.startswith("-") and "f" in a for a in args)
        rc, err = 0, b""
        for a in (a for a in args if not a.startswith("-")):
            p = self._path(a)
            if p is None or not p.exists():
                if not force:
                    err += f"rm: {a}: No such file or directory\n".encode()
                    rc = 1
            elif p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
        return Result(err=err, rc=rc)

    async def cmd_sha256sum(self, args, stdin):
        return self._each_file("sha256sum", args, lambda a, p: (
            f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {a}\n".encode()))

    async def cmd_df(self, args, stdin):
        limit = self.d.faults.storage_limit_bytes
        total = limit if limit is not None else shutil.disk_usage(self.d.root).total
        used = self.d.used_bytes()
        free = max(0, total - used) if limit is not None else shutil.disk_usage(self.d.root).free
        k = lambda n: n // 1024  # noqa: E731
        return Result((f"Filesystem 1K-blocks Used Available Use% Mounted on\n"
                       f"/dev/vdev {k(total)} {k(used)} {k(free)} "
                       f"{100 * used // max(total, 1)}% /data\n").encode())

    async def cmd_sleep(self, args, stdin):
        await asyncio.sleep(float(args[0]) if args else 0)
        return Result()

    async def cmd_pm(self, args, stdin):
        if args[:1] == ["install"]:
            path = next((a for a in reversed(args) if not a.startswith("-")), "")
            p = self._path(path)
            if p is None or not p.is_file():
                return Result(b"Failure [INSTALL_FAILED_INVALID_URI]\n", rc=1)
            data = p.read_bytes()
            return Result(self.d.install(data[:2], hashlib.sha256(data).hexdigest()))
        if args[:2] == ["list", "packages"]:
            return Result("".join(f"package:{p}\n" for p in self.d.packages).encode())
        if args[:1] == ["path"] and args[1:2] and args[1] in self.d.packages:
            return Result(f"package:/data/app/{args[1]}/base.apk\n".encode())
        return Result(err=b"pm: unsupported on the virtual device\n", rc=1)

    async def cmd_wm(self, args, stdin):
        return Result(err=b"wm: no display (virtual device: the screen is unknown)\n", rc=1)

    async def cmd_settings(self, args, stdin):
        return Result(b"null\n")

    async def cmd_uname(self, args, stdin):
        return Result(f"{platform.system()} (virtual device on this host)\n".encode())

    async def cmd_logcat(self, args, stdin):
        log = self.d.root / "logcat.txt"
        if "-c" in args:
            log.unlink(missing_ok=True)
            return Result()
        return Result(log.read_bytes() if log.is_file() else b"")

    async def cmd_run_as(self, args, stdin):
        if not args or args[0] not in self.d.packages:
            pkg = args[0] if args else ""
            return Result(err=f"run-as: unknown package: {pkg}\n".encode(), rc=1)
        shell = Shell(lambda n: self.d._command(n, f"/data/data/{args[0]}"),
                      _Files(self.d, f"/data/data/{args[0]}"))
        return await shell.run(" ".join(_quote(a) for a in args[1:]), stdin)

    async def cmd_am(self, args, stdin):
        if args[:1] == ["force-stop"]:
            if args[1:2] == [APP_PACKAGE]:
                await asyncio.to_thread(self.d.stop_workers)
            return Result()
        if args[:1] != ["start"]:
            return Result(err=b"am: only `am start` and `am force-stop` are available on the "
                              b"virtual device\n", rc=1)
        component, extras = _intent(args[1:])
        if component != BENCH_ACTIVITY or APP_PACKAGE not in self.d.packages:
            return Result(f"Starting: Intent {{ cmp={component} }}\n".encode(),
                          f"Error type 3\nError: Activity class {{{component}}} does not "
                          "exist.\n".encode(), rc=1)
        try:
            self.d.launch_benchmark(extras)
        except ValueError as e:
            return Result(err=f"am: bad intent extras: {e}\n".encode(), rc=1)
        return Result(f"Starting: Intent {{ cmp={component} }}\nStatus: ok\n"
                      "LaunchState: COLD\n".encode())

    async def cmd_dumpsys(self, args, stdin):
        from mpkit.vdevice.host_state import dumpsys

        return Result(dumpsys(args, self.d.app_pid()).encode())


def _intent(args: list[str]) -> tuple[str, dict]:
    """`-n component` and typed extras (--es/--ei/--ef/--ez) of `am start`."""
    component, extras, i = "", {}, 0
    cast = {"--es": str, "--ei": int, "--ef": float, "--ez": lambda v: v == "true"}
    while i < len(args):
        if args[i] == "-n" and i + 1 < len(args):
            component, i = args[i + 1], i + 2
        elif args[i] in cast and i + 2 < len(args) + 1:
            extras[args[i + 1]] = cast[args[i]](args[i + 2])
            i += 3
        else:
            i += 1
    return component, extras


def _quote(word: str) -> str:
    return shlex.quote(word)


def chmod_mode(current: int, is_dir: bool, spec: str) -> int | None:
    """toybox chmod's MODE applied to `current`: octal, or clauses like `u+rwX,go+rX`
    (X: execute for directories); None for a mode chmod would refuse."""
    if spec.isdigit():
        return int(spec, 8) if all(c in "01234567" for c in spec) else None
    mode = current
    for clause in spec.split(","):
        who = clause[:len(clause) - len(clause.lstrip("ugoa"))]
        rest = clause[len(who):]
        if not rest or rest[0] not in "+-=" or any(c not in "rwxX" for c in rest[1:]):
            return None
        shifts = [s for w, s in (("u", 6), ("g", 3), ("o", 0)) if not who or "a" in who or w in who]
        bits = sum({"r": 4, "w": 2, "x": 1}.get(c, 1 if c == "X" and (is_dir or current & 0o111)
                                                 else 0) for c in set(rest[1:]))
        for shift in shifts:
            if rest[0] == "=":
                mode &= ~(7 << shift)
            mode = mode & ~(bits << shift) if rest[0] == "-" else mode | (bits << shift)
    return mode
