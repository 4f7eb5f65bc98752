"""The detector and learned flow follow the pose network's fp16/bf16 under autocast on a GPU, stay fp32 on a CPU."""
from __future__ import annotations

import torch

from pose.precision import PrecisionChoice
from tracker.stage_precision import follow_precision


class Component:
    """Stands for a torchvision detector / learned flow: both have an ``autocast`` attribute the tracker sets."""

    autocast = None


class Yolox:
    session = object()


def test_gpu_fp16_autocasts_the_detector_and_flow():
    detector, flow = Component(), Component()
    follow_precision(PrecisionChoice("fp16", "pytorch", "auto"), "cuda:0", detector, flow)
    assert detector.autocast is torch.float16 and flow.autocast is torch.float16
    assert detector.precision_note == "fp16 autocast on the GPU (Faster R-CNN)"


def test_cpu_keeps_them_fp32_and_says_so():
    detector, flow, yolox = Component(), Component(), Yolox()
    follow_precision(PrecisionChoice("int8", "openvino", "auto"), "cpu", detector, flow)
    follow_precision(PrecisionChoice("bf16", "openvino", "auto"), "cpu", yolox, None)
    assert detector.autocast is None and flow.autocast is None
    assert detector.precision_note.startswith("fp32: Faster R-CNN follows fp16/bf16 under autocast on GPUs only")
    assert flow.precision_note.startswith("fp32: learned flow")
    assert yolox.precision_note.startswith("fp32 on onnxruntime: YOLOX stays fp32")


def test_fp32_runs_change_nothing():
    detector = Component()
    follow_precision(PrecisionChoice("fp32", "pytorch", "asked for"), "cuda", detector, None)
    assert detector.autocast is None and not hasattr(detector, "precision_note")
