#!/usr/bin/env bash
# Sets up everything mpkit needs on a fresh machine: system libraries, a Python 3.11 venv in
# .venv with the pinned stack, the package itself, and the hash-checked test assets.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=$root/.venv

log() { printf '[setup] %s\n' "$*" >&2; }

# System packages: libusb (tflite-support's metadata writers), Debian's adb 29 (the device
# tests run against it and against the adb 36 that the adbutils wheel ships), the Vulkan loader
# (LiteRT's GPU accelerator runs on SwiftShader, extracted below by `mpkit gpu setup`).
need_apt=()
ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0' || need_apt+=(libusb-1.0-0)
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' || need_apt+=(libvulkan1)
[ -x /usr/bin/adb ] || need_apt+=(adb)
if ((${#need_apt[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing ${need_apt[*]}"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    log "please install these system packages, then run again: ${need_apt[*]}"
    exit 1
  fi
fi

python=""
for candidate in python3.11 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    python=$candidate
    break
  fi
done
[ -n "$python" ] || { log "Python 3.11 is required (python3.11 not found)"; exit 1; }

stamp=$venv/.mpkit-installed
want=$(cat requirements/lock.txt requirements/runtime.txt requirements/nodeps.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "creating $venv (pinned stack, about 2 minutes and 4.5 GB)"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  # torch comes as the CPU build: from a local wheel folder when there is one, else PyTorch's CPU index.
  links=()
  if ls /opt/wheels/torch-2.13.0+cpu-*.whl >/dev/null 2>&1; then
    links=(--find-links /opt/wheels)
  else
    links=(--extra-index-url https://download.pytorch.org/whl/cpu)
  fi
  "$venv/bin/pip" install -q pip==26.0
  "$venv/bin/pip" install -q "${links[@]}" -c requirements/lock.txt -r requirements/runtime.txt
  "$venv/bin/pip" install -q --no-deps -r requirements/nodeps.txt
  "$venv/bin/pip" install -q --no-deps -e .
  if "$venv/bin/pip" list 2>/dev/null | grep -qi '^nvidia-'; then
    log "a CUDA package was pulled in; the stack must stay CPU-only"; exit 1
  fi
  echo "$want" > "$stamp"
fi

log "fetching test assets"
"$venv/bin/mpkit" assets fetch
log "setting up the software GPU (SwiftShader from Debian's chromium-common)"
"$venv/bin/mpkit" gpu setup
