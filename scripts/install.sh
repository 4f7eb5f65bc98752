#!/usr/bin/env bash
# Set up posetrack in a virtual environment: bash scripts/install.sh [VENV_DIR]   (default: .venv)
#
# - torch/torchvision come from the package registry as a matching pair (the registry's torch runs on CPU too).
# - OpenCV stays below 5 (cv2.optflow's TV-L1 and the HOG/Haar data are gone in 5.x).
# - ptlflow (FlowNet 2.0 and the other learned flow models) is installed with --no-deps: its declared requirements
#   pull opencv-python, which overwrites opencv-contrib-python's cv2. What it imports at run time comes from the
#   "flow" extra instead.
# - the "onnx" extra (onnx, onnxscript) exports HRNet to ONNX (python -m pose.export); onnxruntime, which runs ONNX
#   pose models and the YOLOX detector, is a core dependency.
# - the "fast" extra (openvino, with onnx) runs the pose network in the precision the CPU does fastest
#   (--precision auto: int8 / bf16 through OpenVINO where the CPU has VNNI / AMX).
set -euo pipefail
venv="$(realpath -m "${1:-$(dirname "$0")/../.venv}")"  # resolved from the caller's folder
cd "$(dirname "$0")/.."
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e ".[test,flow,onnx,fast]"
"$venv/bin/python" -m pip install --quiet --no-deps "ptlflow==0.4.2"
"$venv/bin/python" - <<'PY'
# fails loudly if the set-up is broken
import cv2, torch, torchvision, decord, motmetrics, pycocotools, onnx, onnxruntime, onnxscript, openvino  # noqa: F401
assert hasattr(cv2, "optflow"), "cv2.optflow is missing: another OpenCV distribution overwrote opencv-contrib-python"
print(f"posetrack environment ready: torch {torch.__version__}, torchvision {torchvision.__version__}, "
      f"OpenCV {cv2.__version__}, CUDA available: {torch.cuda.is_available()}")
PY
