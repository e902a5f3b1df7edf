#!/usr/bin/env bash
# Runs SUMO and nutgiao on the same scenario (the arterial, fixed 90 s plan, 3600 s, 1 s step,
# Krauss) in one run and prints each one's vehicle-updates per second of wall time and the ratio.
# Usage: benches/sim_vs_sumo.sh [SEED]   (needs ../shared/data/sumo-arterial and sumo on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-1}
data=../shared/data/sumo-arterial
if [ ! -d "$data" ] || ! command -v sumo >/dev/null; then
  echo "skipping: needs $data and sumo on PATH"; exit 0
fi
export SUMO_HOME=${SUMO_HOME:-/usr/share/sumo}
cargo build --release --quiet --bin nutgiao
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

t0=$(date +%s.%N)
sumo -n "$data/arterial_static.net.xml" -r "$data/arterial.rou.xml" -b 0 -e 3600 --step-length 1 --seed "$seed" \
  --statistic-output "$tmp/stats.xml" --summary-output "$tmp/summary.xml" --no-step-log \
  --duration-log.statistics >"$tmp/sumo.log" 2>&1
t1=$(date +%s.%N)
# SUMO's vehicle-updates: the sum over steps of running vehicles (its summary output).
sumo_updates=$(python3 -c "
import xml.etree.ElementTree as ET
print(sum(int(s.get('running')) for s in ET.parse('$tmp/summary.xml').getroot().iter('step')))")
sumo_wall=$(echo "$t1 - $t0" | bc -l)
# SUMO's own simulation-loop time ("Duration: N ms" in its performance log).
sumo_loop=$(python3 -c "
import re; m=re.search(r'Duration: ([0-9.]+)s', open('$tmp/sumo.log').read()); print(float(m.group(1)) if m else 'nan')")

t0=$(date +%s.%N)
./target/release/nutgiao simulate config/examples/arterial.toml --duration 3600 --seed "$seed" --step 1 \
  --model krauss --controller fixed:fixed90 --arrivals uniform --quiet --summary "$tmp/nutgiao.json" >/dev/null 2>&1
t1=$(date +%s.%N)
nut_wall=$(echo "$t1 - $t0" | bc -l)
nut_updates=$(python3 -c "import json; print(json.load(open('$tmp/nutgiao.json'))['vehicle_steps'])")
nut_loop=$(python3 -c "import json; print(json.load(open('$tmp/nutgiao.json'))['wall_s'])")

python3 - "$sumo_updates" "$sumo_wall" "$sumo_loop" "$nut_updates" "$nut_wall" "$nut_loop" <<'PY'
import sys
su, sw, sl, nu, nw, nl = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
print(f"sumo:    {su} vehicle-updates; whole process {sw:.3f} s = {su / sw:,.0f} updates/s; simulation loop {sl:.3f} s = {su / sl:,.0f} updates/s")
print(f"nutgiao: {nu} vehicle-updates; whole process {nw:.3f} s = {nu / nw:,.0f} updates/s; simulation loop {nl:.3f} s = {nu / nl:,.0f} updates/s")
print(f"ratio nutgiao/sumo, simulation loop: {(nu / nl) / (su / sl):.1f}x (goal 25x)")
print(f"ratio nutgiao/sumo, whole process:   {(nu / nw) / (su / sw):.1f}x")
PY
