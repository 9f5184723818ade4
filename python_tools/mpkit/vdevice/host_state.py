"""What the virtual device reports about itself: real host figures where a phone would report
its own, labelled as such, and an honest "unknown" where the host has none."""

from __future__ import annotations

from pathlib import Path


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


def dumpsys(args: list[str], pid: int) -> str:
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
        pss = pss_kb(pid)
        value = "unknown" if pss is None else str(pss)
        return (f"Applications Memory Usage (in Kilobytes):\n** MEMINFO in pid {pid} "
                f"[{args[1] if len(args) > 1 else 'host'}] **\n"
                f"           TOTAL PSS: {value}   (host-measured: virtual device)\n")
    if service == "SurfaceFlinger":
        return "GLES: none (virtual device: runs bundles with the host CPU runtimes)\n"
    if service == "display":
        return "mDisplayInfos:\n  orientation=0\n"
    return f"Can't find service: {service}\n"
