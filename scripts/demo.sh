#!/usr/bin/env bash
# The offline demo of the README: bash scripts/demo.sh [OUT_DIR]   (default: demo/)
#
# 1. generates a 60-frame synthetic clip with ground truth and detections derived from it (jittered boxes, some
#    missed, some false) — no detector weights needed;
# 2. tracks it with the small HRNet shipped in pose/weights (hrnet_synthetic), DIS optical flow and the HRNet
#    paper's PoseTrack settings, writing PoseTrack 2018 JSON and an overlay video;
# 3. scores the predictions with the PoseTrack evaluator (mAP and MOTA as the official poseval computes them).
set -euo pipefail
out="$(realpath -m "${1:-$(dirname "$0")/../demo}")"   # resolved from the caller's folder
cd "$(dirname "$0")/.."
python="${PYTHON:-.venv/bin/python}"
seq=000001_mpii_test

"$python" -m pose.data.synthetic --out "$out/data" --videos 1 --frames 60 --seed 7 --first-id 1 --quiet
"$python" -m tracker.run --video "$out/data/videos/$seq.mp4" --detector "file:$out/data/detections/$seq.json" \
    --pose-weights hrnet_synthetic --out "$out/pred" --overlay --no-progress
"$python" -m tracker.evaluate --gt "$out/data/annotations" --pred "$out/pred"
echo "predictions: $out/pred/$seq.json   overlay: $out/pred/${seq}_overlay.mp4"
