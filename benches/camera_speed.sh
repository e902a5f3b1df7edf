#!/bin/sh
# Speed of the synthetic cameras: film N seconds of the arterial's cameras to MP4 and report
# camera-frames per second and the real-time factor, for the example's 2 cameras and for a
# 4-camera copy (the two cameras twice, as four mounts).
#
#   benches/camera_speed.sh [BINARY] [SECONDS]     (default target/release/nutgiao, 30)
#
# Real time at 25 fps means a real-time factor >= 1.0 (simulated seconds per wall second).
# Then the live case: the same cameras served over RTSP (their real-time encoder) with a
# client on every mount, and how far the run fell behind the wall clock.
set -eu
BIN=${1:-target/release/nutgiao}
SECS=${2:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cp "$ROOT/config/examples/arterial.toml" "$TMP/two.toml"
# Four cameras: append copies of the two camera blocks under new ids.
python3 - "$ROOT/config/examples/arterial.toml" "$TMP/four.toml" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
start = s.index("[[camera]]")
end = s.index("# ----", start)
cams = s[start:end]
extra = cams.replace("cam-J1-W", "cam-J1-W-b").replace("cam-J2-E", "cam-J2-E-b")
open(sys.argv[2], "w").write(s[:end] + extra + s[end:])
PY
for site in two four; do
  n=$(grep -c '^\[\[camera\]\]' "$TMP/$site.toml")
  start=$(date +%s.%N)
  "$BIN" simulate "$TMP/$site.toml" --duration "$SECS" --seed 1 --quiet --cameras "$TMP/out-$site" > /dev/null 2>&1
  end=$(date +%s.%N)
  python3 -c "
w=$end-$start; frames=($SECS*25+1)*$n
print(f'$site: {$n} cameras, {frames} frames in {w:.1f} s wall: {frames/w:.1f} camera-frames/s, real-time factor {$SECS/w:.2f}')"
done

# Live: the same sites served over RTSP, paced to the wall clock, with one client pulling
# each mount (so that every encoder runs). The simulator reports how far it fell behind.
PORT=$((20000 + $$ % 20000))
for site in two four; do
  n=$(grep -c '^\[\[camera\]\]' "$TMP/$site.toml")
  sed "s/127.0.0.1:8554/127.0.0.1:$PORT/" "$TMP/$site.toml" > "$TMP/live-$site.toml"
  "$BIN" simulate "$TMP/live-$site.toml" --duration "$SECS" --seed 1 --quiet --cameras rtsp > /dev/null 2> "$TMP/live-$site.log" &
  server=$!
  sleep 2
  for uri in $(grep '^uri = "rtsp://' "$TMP/live-$site.toml" | cut -d'"' -f2); do
    timeout $((SECS + 30)) gst-launch-1.0 -q rtspsrc location="$uri" protocols=tcp ! fakesink > /dev/null 2>&1 &
  done
  wait "$server" || true
  # Plain text: the log may carry colour codes.
  sed -i 's/\x1b\[[0-9;]*m//g' "$TMP/live-$site.log"
  lag=$(grep -o 'end_lag_s=[0-9.e-]*' "$TMP/live-$site.log" | tail -1 | cut -d= -f2)
  max=$(grep -o 'max_lag_s=[0-9.e-]*' "$TMP/live-$site.log" | tail -1 | cut -d= -f2)
  PORT=$((PORT + 1))
  if [ -z "$lag" ]; then echo "live $site: no pace reported"; tail -3 "$TMP/live-$site.log"; continue; fi
  python3 -c "
print(f'live $site: {$n} cameras over RTSP for $SECS s: behind the wall clock by {$lag:.2f} s at the end (at most {$max:.2f} s), real-time factor {$SECS/($SECS+$lag):.2f}')"
done
pkill -f "rtspsrc location=rtsp://127.0.0.1:" 2>/dev/null || true
