#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine (run as root, or with sudo available).
# Installs only what is missing and says what it does; takes seconds when everything is present.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)

# Build dependencies of the Rust crates (opencv binding generator needs clang; gstreamer-rs needs the -dev
# packages) and the real peers that the tests talk to (mbpoll, SUMO, promtool, Mosquitto, Chromium).
PACKAGES=(
  pkg-config clang libclang-dev libopencv-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev libgstrtspserver-1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
  gstreamer1.0-libav gstreamer1.0-tools gstreamer1.0-rtsp libopenh264-7
  libsqlite3-dev sqlite3
  mbpoll sumo sumo-tools prometheus mosquitto mosquitto-clients chromium chromium-driver
  python3-venv
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# On some sandboxes /dev/null is a regular file. Whatever one program discards there (a C
# compiler's probe error, say) is then read back by the next program whose input is
# /dev/null: cargo's `rustc -` target probe read "c++: error: unrecognized command-line
# option '-?'" as Rust source and every build after it failed (cargo caches the failed
# probe in target/.rustc_info.json). Put the character device back.
# Checked again at the end, in case a package script replaced it.
ensure_dev_null() {
  if [ ! -c /dev/null ]; then
    echo "bootstrap: /dev/null is not a character device here; recreating it"
    $SUDO mknod -m 666 /dev/null.nutgiao c 1 3 && $SUDO mv -f /dev/null.nutgiao /dev/null
    [ -c /dev/null ] || echo "bootstrap: could not recreate /dev/null (mknod refused); builds may fail" >&2
  fi
}
ensure_dev_null
# A target probe that failed while /dev/null was a file stays cached; drop such a cache.
if [ -f "$here/target/.rustc_info.json" ] && grep -q 'unknown start of token' "$here/target/.rustc_info.json"; then
  rm -f "$here/target/.rustc_info.json"
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # Services must not be started by the package scripts: the tests start their own on loopback.
  policy_created=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    policy_created=1
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [ "$policy_created" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
else
  echo "bootstrap: Debian packages present"
fi

# A project-local venv: pymodbus stands in for a third-party signal cabinet in the Modbus tests,
# onnx builds the tiny detector models of the DNN tests (no weights are downloaded).
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pymodbus, onnx' 2>/dev/null; then
  echo "bootstrap: creating $venv with pymodbus and onnx"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'pymodbus==3.6.9' 'onnx==1.23.2'
else
  echo "bootstrap: python venv with pymodbus and onnx present"
fi

# playwright-core drives the system Chromium in the dashboard test (no browser download).
if [ -f "$here/tests/browser/package.json" ] && [ ! -d "$here/tests/browser/node_modules/playwright-core" ]; then
  echo "bootstrap: installing playwright-core for the dashboard test"
  (cd "$here/tests/browser" && npm install --no-audit --no-fund --silent)
fi

ensure_dev_null
echo "bootstrap: done"
