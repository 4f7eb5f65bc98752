#!/usr/bin/env bash
# The paper's pipeline on a GPU, fp32 against fp16, frames/s per stage (the goal: >= 30 frames/s end to end).
#
#   bash benchmarks/gpu_pipeline.sh [FRAMES] [DEVICE]     (defaults: 150 cuda; "3 cpu" checks the plumbing, fp32 only)
#
# HRNet-W48 384x288 with flip test, FlowNet2-S (ptlflow "flownets"), a torchvision Faster R-CNN, on a generated
# 1280x720 clip of 5 people. No trained checkpoint can be fetched offline, so all three networks run random
# weights (the same cost). A detector with random weights finds nobody: the Faster R-CNN still runs on every frame
# (its time is the "detector network" row), while the person boxes come from the clip's ground truth
# (--boxes-from). fp16 = torch autocast for all three (--precision fp16 on a GPU).
set -euo pipefail
frames="${1:-150}"
device="${2:-cuda}"
cd "$(dirname "$0")/.."
python="${PYTHON:-.venv/bin/python}"
clip="$(mktemp -d)"
trap 'rm -rf "$clip"' EXIT
"$python" -m pose.data.synthetic --out "$clip" --videos 1 --frames "$frames" --size 1280x720 --people 5 --seed 3 \
    --no-detections --quiet
precisions="fp32,fp16"
[ "$device" = cpu ] && precisions="fp32"
"$python" benchmarks/track_speed.py --video "$clip/videos/000000_mpii_test.mp4" --frames "$frames" --rss-at "$frames" \
    --device "$device" --config default --detector torchvision --set detector.weights=none \
    --boxes-from "$clip/annotations/000000_mpii_test.json" --pose-model coco_w48_384x288 \
    --flow flownets --set flow.checkpoint=random --precision "$precisions"
