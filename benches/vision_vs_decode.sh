#!/usr/bin/env bash
# The vision pipeline's throughput against a decode-only GStreamer pipeline on the same
# 1080p H.264 file, in the same run; then N concurrent 1080p streams.
#
#   cargo build --release --bin nutgiao && benches/vision_vs_decode.sh [N_STREAMS]
#
# The 1080p file is made here by scaling ../shared/data/video/cdnet-highway/highway.mp4.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-4}
BIN=${NUTGIAO:-target/release/nutgiao}
SRC=../shared/data/video/cdnet-highway/highway.mp4
WORK=${WORK:-$(mktemp -d)}
HD=$WORK/highway-1080p.mp4
[ -f "$SRC" ] || { echo "skipping: $SRC is not beside the checkout"; exit 0; }

if [ ! -f "$HD" ]; then
  gst-launch-1.0 -q filesrc location="$SRC" ! decodebin ! videoconvert ! videoscale ! \
    video/x-raw,width=1920,height=1080 ! x264enc speed-preset=veryfast bitrate=8000 key-int-max=50 ! \
    video/x-h264,profile=high ! h264parse ! mp4mux ! filesink location="$HD"
fi
FRAMES=1700

secs() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(date +%s.%N) - $s" | bc -l; }

decode=$(secs gst-launch-1.0 -q uridecodebin uri="file://$(realpath "$HD")" ! fakesink sync=false)
decode_convert=$(secs gst-launch-1.0 -q uridecodebin uri="file://$(realpath "$HD")" ! videoscale ! \
  video/x-raw,width=1280,height=720 ! videoconvert ! video/x-raw,format=BGR ! fakesink sync=false)
native=$(secs "$BIN" count "$HD" --line 360,675,1680,675 --summary "$WORK/native.json")
site=$(secs "$BIN" count "$HD" --site config/examples/arterial.toml --camera cam-J1-W --summary "$WORK/site.json")

fps() { echo "$FRAMES / $1" | bc -l | xargs printf '%.1f'; }
echo "file: $HD (1920x1080 H.264, $FRAMES frames)"
echo "decode only (uridecodebin ! fakesink):                 $(fps "$decode") fps"
echo "decode + scale 1280x720 + BGR (no vision):             $(fps "$decode_convert") fps"
echo "nutgiao count, processing at 1920x1080:                $(fps "$native") fps  ratio $(echo "$decode / $native" | bc -l | xargs printf '%.2f')"
echo "nutgiao count, site camera (processing at 1280x720):   $(fps "$site") fps  ratio $(echo "$decode / $site" | bc -l | xargs printf '%.2f')"
echo "per-stage seconds (1280x720): $(grep -A7 stage_times_s "$WORK/site.json" | tr -d '\n ' )"

# The ceiling: N concurrent decode-only pipelines on the same file. Where these cannot reach
# 25 fps each, no pipeline that decodes every frame in software can, whatever it does after.
start=$(date +%s.%N)
for i in $(seq 1 "$N"); do
  gst-launch-1.0 -q uridecodebin uri="file://$(realpath "$HD")" ! fakesink sync=false >/dev/null 2>&1 &
done
wait
wall=$(echo "$(date +%s.%N) - $start" | bc -l)
echo "$N concurrent decode-only pipelines:                    $(echo "$FRAMES / $wall" | bc -l | xargs printf '%.1f') fps per stream"

# Wall time says whether N streams keep up on this machine today; CPU time per frame says
# what they cost, which moves far less with what else the cores are doing: real time for N
# streams at 25 fps needs at most 1000 ms x cores / (N x 25) of CPU a frame.
# Each stream's decoder runs on one thread, as `watch` runs them for two cameras or more on two
# cores (DECODER_THREADS=0: the decoder's own choice, one thread per core).
CORES=$(nproc)
rm -f "$WORK"/cpu[0-9]*
start=$(date +%s.%N)
for i in $(seq 1 "$N"); do
  /usr/bin/time -f "%U %S" -o "$WORK/cpu$i" "$BIN" count "$HD" --site config/examples/arterial.toml --camera cam-J1-W \
    --decoder-threads "${DECODER_THREADS:-1}" --summary "$WORK/c$i.json" >/dev/null 2>&1 &
done
wait
wall=$(echo "$(date +%s.%N) - $start" | bc -l)
cpu=$(cat "$WORK"/cpu[0-9]* | awk '{c += $1 + $2} END {print c}')
echo "$N concurrent 1080p streams (processing at 1280x720, decoder threads ${DECODER_THREADS:-1}): $(echo "$N * $FRAMES / $wall" | bc -l | xargs printf '%.1f') frames/s in total, $(echo "$FRAMES / $wall" | bc -l | xargs printf '%.1f') fps per stream (real time needs 25)"
echo "  CPU per frame: $(echo "$cpu * 1000 / ($N * $FRAMES)" | bc -l | xargs printf '%.1f') ms (real time on $CORES cores needs at most $(echo "1000 * $CORES / ($N * 25)" | bc -l | xargs printf '%.1f') ms)"
