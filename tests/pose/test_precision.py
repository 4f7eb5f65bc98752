"""Precision selection: native abilities from (simulated) CPU flags and GPU capabilities, auto, clear errors."""
from __future__ import annotations

import pytest

from pose.precision import (
    PrecisionError,
    cpu_abilities,
    cuda_abilities,
    read_cpu_flags,
    resolve_precision,
)

AMX_CPU = {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8"}
VNNI_CPU = {"avx2", "avx512f", "avx512_vnni"}           # a CPU with VNNI but no bf16 and no AMX
PLAIN_CPU = {"sse4_2", "avx", "avx2", "fma"}             # nothing faster than fp32
ALL_RUNTIMES = ("pytorch", "onnxruntime", "openvino")


def test_native_precisions_follow_the_flags():
    assert cpu_abilities(AMX_CPU).native == {"fp32", "bf16", "fp16", "int8"}
    assert cpu_abilities(VNNI_CPU).native == {"fp32", "int8"}
    assert cpu_abilities(PLAIN_CPU).native == {"fp32"}
    assert cpu_abilities({"avx_vnni"}).why("int8") == "avx_vnni"
    assert "amx_bf16" in cpu_abilities(AMX_CPU).description


def test_auto_is_fp32_when_nothing_faster_is_native_and_says_so():
    choice = resolve_precision("auto", abilities=cpu_abilities(PLAIN_CPU), available=ALL_RUNTIMES)
    assert choice.precision == "fp32"
    assert "no native" in choice.reason and "CPU flags" in choice.reason
    assert choice.runtime == "openvino"     # the fastest fp32 runtime installed


def test_auto_takes_the_fastest_native_precision():
    assert resolve_precision("auto", abilities=cpu_abilities(AMX_CPU), available=ALL_RUNTIMES).precision == "int8"
    assert resolve_precision("auto", abilities=cpu_abilities(VNNI_CPU), available=ALL_RUNTIMES).precision == "int8"
    # int8 needs an ONNX runtime; with PyTorch alone, AMX falls back to bf16 and VNNI to fp32
    assert resolve_precision("auto", abilities=cpu_abilities(AMX_CPU), available=("pytorch",)).precision == "bf16"
    only_torch = resolve_precision("auto", abilities=cpu_abilities(VNNI_CPU), available=("pytorch",))
    assert (only_torch.precision, only_torch.runtime) == ("fp32", "pytorch")


def test_a_precision_the_cpu_cannot_do_is_one_clear_error():
    with pytest.raises(PrecisionError, match="cannot run bf16 natively .*avx512_bf16.*auto or fp32"):
        resolve_precision("bf16", abilities=cpu_abilities(VNNI_CPU), available=ALL_RUNTIMES)
    with pytest.raises(PrecisionError, match="cannot run int8 natively"):
        resolve_precision("int8", abilities=cpu_abilities(PLAIN_CPU), available=ALL_RUNTIMES)


def test_runtime_choice_and_its_errors():
    amx = cpu_abilities(AMX_CPU)
    assert resolve_precision("bf16", "pytorch", amx, ALL_RUNTIMES).runtime == "pytorch"
    assert resolve_precision("int8", abilities=amx, available=("pytorch", "onnxruntime")).runtime == "onnxruntime"
    with pytest.raises(PrecisionError, match="runtime pytorch cannot run int8"):
        resolve_precision("int8", "pytorch", amx, ALL_RUNTIMES)
    with pytest.raises(PrecisionError, match="openvino.*not installed"):
        resolve_precision("fp32", "openvino", amx, ("pytorch",))
    with pytest.raises(PrecisionError, match="precision 'double' is not one of auto, fp32"):
        resolve_precision("double", abilities=amx)
    # fp32 by name keeps the PyTorch reference path; auto that lands on fp32 takes the fastest runtime
    assert resolve_precision("fp32", abilities=amx, available=ALL_RUNTIMES).runtime == "pytorch"
    assert resolve_precision("fp32", "openvino", amx, ALL_RUNTIMES).runtime == "openvino"
    # an ONNX model cannot run in PyTorch: auto skips it; nor does auto quantise a given ONNX model
    assert resolve_precision("fp32", abilities=amx, available=ALL_RUNTIMES, onnx_model=True).runtime == "onnxruntime"
    assert resolve_precision("fp32", abilities=amx, available=("openvino",), onnx_model=True).runtime == "openvino"
    onnx_auto = resolve_precision("auto", abilities=amx, available=ALL_RUNTIMES, onnx_model=True)
    assert (onnx_auto.precision, onnx_auto.runtime) == ("bf16", "openvino")
    assert resolve_precision("int8", abilities=amx, available=ALL_RUNTIMES, onnx_model=True).precision == "int8"


def test_gpu_abilities_from_compute_capability():
    volta, ampere = cuda_abilities(capability=(7, 0), name="V100"), cuda_abilities(capability=(8, 0), name="A100")
    assert volta.native == {"fp32", "fp16"} and ampere.native == {"fp32", "fp16", "bf16"}
    choice = resolve_precision("auto", abilities=volta, available=ALL_RUNTIMES)
    assert (choice.precision, choice.runtime) == ("fp16", "pytorch")
    with pytest.raises(PrecisionError, match="compute capability 8.0"):
        resolve_precision("bf16", abilities=volta, available=ALL_RUNTIMES)
    with pytest.raises(PrecisionError, match="int8 runs on CPUs only"):
        resolve_precision("int8", abilities=ampere, available=ALL_RUNTIMES)
    old = cuda_abilities(capability=(6, 1), name="GTX 1080")
    assert resolve_precision("auto", abilities=old, available=ALL_RUNTIMES).precision == "fp32"


def test_a_missing_gpu_is_a_clear_error(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(PrecisionError, match="device cuda:1 was asked for but no CUDA GPU is available"):
        cuda_abilities("cuda:1")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_vnni\n\nprocessor\t: 1\nflags\t\t: fpu avx2\n")
    assert read_cpu_flags(info) == {"fpu", "avx2", "avx512_vnni"}
    assert read_cpu_flags(tmp_path / "absent") == frozenset()
