"""What the virtual device reports about itself: real host figures where a phone would report
its own, labelled as such, and an honest "unknown" where the host has none."""

from __future__ import annotations

from pathlib import Path

from mpkit.bench.protocol import APP_PACKAGE


def thermal_zones() -> list[tuple[str, float]]:
    zones = []
    for zone in sorted(Path("/sys/class/thermal").glob("thermal_zone*")):
        try:
            zones.append(((zone / "type").read_text().strip(),
                          int((zone / "temp").read_text()) / 1000))
        except (OSError, ValueError):
            continue
    return zones


def pss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def app_pss_kb(pid: int) -> int | None:
    """The app's PSS: the process and its children (the JVM and the tensor bridge that holds
    its models, one process on a phone)."""
    own = pss_kb(pid)
    if own is None:
        return None
    children = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):  # a JVM forks from any thread
        try:
            children.update(task.read_text().split())
        except OSError:
            continue
    return own + sum(pss_kb(int(c)) or 0 for c in children)


def _meminfo(package: str | None, app_pid: int | None) -> str:
    """The benchmark app is the only one the virtual device runs: its PSS, measured."""
    pss = app_pss_kb(app_pid) if app_pid is not None else None
    if package not in (None, APP_PACKAGE) or pss is None:
        return f"No process found for: {package}\n" if package else \
            "Applications Memory Usage (in Kilobytes):\nTotal PSS by process:\n"
    return (f"Applications Memory Usage (in Kilobytes):\n** MEMINFO in pid {app_pid} "
            f"[{APP_PACKAGE}] **\n"
            f"           TOTAL PSS: {pss}   (host-measured: virtual device)\n")


def dumpsys(args: list[str], app_pid: int | None) -> str:
    """`dumpsys` answers; `app_pid` is the running app (JVM), if any."""
    service = args[0] if args else ""
    if service == "thermalservice":
        zones = thermal_zones()
        if not zones:
            return ("IsStatusOverride: false\nThermal Status: 0\n"
                    "Current temperatures from HAL:\n"
                    "  (none: this host exposes no thermal zones; virtual device)\n")
        lines = [f"  Temperature{{mValue={t:.1f}, mType=-1, mName={name}, mStatus=0}}"
                 for name, t in zones]
        return ("IsStatusOverride: false\nThermal Status: 0\nCurrent temperatures from HAL:\n"
                + "\n".join(lines) + "\n  (host-measured: virtual device)\n")
    if service == "battery":
        return ("Current Battery Service state:\n  present: false\n  level: -1\n"
                "  temperature: -1\n  (unknown: virtual device has no battery)\n")
    if service == "meminfo":
        return _meminfo(args[1] if len(args) > 1 else None, app_pid)
    if service == "SurfaceFlinger":
        return "GLES: none (virtual device: runs bundles with the host CPU runtimes)\n"
    if service == "display":
        return "mDisplayInfos:\n  (none: virtual device has no display)\n"
    return f"Can't find service: {service}\n"
