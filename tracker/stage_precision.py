"""The detector and the learned optical flow follow the pose network's precision where their accuracy holds.

- torchvision Faster R-CNN and learned flow (RAFT, FlowNet) run under fp16 / bf16 autocast on a GPU, as the pose
  network does there (outputs back in float32 before NMS and propagation);
- on a CPU they stay fp32: torchvision's detection ops and the flow networks' correlation layers have no
  native-speed bf16 / int8 CPU kernels, and without their trained checkpoints here their accuracy in another
  precision cannot be checked;
- YOLOX (ONNX) stays fp32 on ONNX Runtime: a network of about 1 GFLOP, which bf16 (OpenVINO) did not make faster
  in our measurement, and which added a box near the score threshold on vtest.avi.

``follow_precision`` sets the components' ``autocast`` and their ``precision_note`` (run header, timing table).
"""
from __future__ import annotations

AUTOCAST_DTYPES = ("fp16", "bf16")


def follow_precision(choice, device: str, detector, flow_estimator) -> None:
    """Apply the pose network's ``PrecisionChoice`` to the detector and flow where it holds; note it on each."""
    if choice is None or choice.precision == "fp32":
        return
    import torch

    on_gpu = str(device).startswith("cuda") and choice.precision in AUTOCAST_DTYPES
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(choice.precision)
    for component, what in ((detector, "Faster R-CNN"), (flow_estimator, "learned flow")):
        if component is None or not hasattr(component, "autocast"):
            continue
        if on_gpu:
            component.autocast = dtype
            component.precision_note = f"{choice.precision} autocast on the GPU ({what})"
        else:
            component.precision_note = (f"fp32: {what} follows fp16/bf16 under autocast on GPUs only; on a CPU "
                                        f"it stays fp32")
    if detector is not None and hasattr(detector, "session"):
        detector.precision_note = ("fp32 on onnxruntime: YOLOX stays fp32 (bf16 was not faster for this 1 GFLOP "
                                   "network and moved boxes near the score threshold)")
