"""Which number format (and which runtime) the pose network runs in on this device: ``--precision`` / ``auto``.

Precisions: ``fp32``, ``bf16``, ``fp16``, ``int8`` (post-training static quantisation, ``pose.quantize``) and
``auto``. Runtimes: ``pytorch``, ``onnxruntime``, ``openvino`` and ``auto``.

1. :func:`device_abilities` says what the device does *natively*, i.e. in hardware rather than emulated:
   on a CPU from its flags (``/proc/cpuinfo``; ``cpu_flags=`` simulates another CPU): bf16 from ``amx_bf16`` or
   ``avx512_bf16``, fp16 from ``amx_fp16`` or ``avx512_fp16``, int8 from ``amx_int8``, ``avx512_vnni`` or
   ``avx_vnni``; on a CUDA GPU from its compute capability (fp16 tensor cores from 7.0, bf16 from 8.0).
   oneDNN runs bf16 on any AVX-512 CPU, but by emulation: ``torch.mm`` in bf16 measured 3.5x *slower* than fp32 on
   a CPU with AVX512-VNNI and no AVX512-BF16, and 7x faster on one with AMX. So the flags decide, not oneDNN.
2. :func:`resolve_precision` turns the request into a :class:`PrecisionChoice` (precision, runtime, reason).
   ``auto`` takes the first native precision of :data:`AUTO_ORDER` (fastest first, each one's accuracy checked by
   ``benchmarks/precision_accuracy.py``); a precision the device does not do natively is a
   :class:`PrecisionError` naming the missing flags. The runtime, when not given, is the first installed one
   of :data:`RUNTIME_ORDER` for that precision: the fastest measured by ``benchmarks/pose_speed.py``; except that
   ``fp32`` asked for by name keeps a model in its reference runtime (a checkpoint in PyTorch: the reference
   numbers, no export step; an ``.onnx`` file in ONNX Runtime).
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

PRECISIONS = ("fp32", "bf16", "fp16", "int8")
RUNTIMES = ("pytorch", "onnxruntime", "openvino")
AUTO = "auto"

# CPU flags (as /proc/cpuinfo names them) that run a precision in hardware.
CPU_NATIVE_FLAGS = {
    "bf16": ("amx_bf16", "avx512_bf16"),
    "fp16": ("amx_fp16", "avx512_fp16"),
    "int8": ("amx_int8", "avx512_vnni", "avx_vnni"),
}
# Flags worth naming in a run header or a benchmark (the ones above plus the vector width).
CPU_REPORTED_FLAGS = ("avx2", "avx512f", "avx_vnni", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
                      "amx_bf16", "amx_int8", "amx_fp16")
# CUDA compute capability from which a precision runs on tensor cores (Volta: fp16; Ampere: bf16).
CUDA_NATIVE_CAPABILITY = {"fp16": (7, 0), "bf16": (8, 0)}

# auto: the fastest precision first, among those the device does natively. Measured with benchmarks/pose_speed.py
# (HRNet-W32 256x192, flip test, 2 cores with AMX, December 2026: OpenVINO int8 78, bf16 58, fp32 12 crops/s;
# PyTorch fp32 12); for this project's HRNets int8 and bf16 keep the fp32 accuracy within the bars of
# benchmarks/precision_accuracy.py. A pose model given as an ONNX file skips int8 in auto: its int8 accuracy is
# not known (MoveNet Thunder int8 lost 1.4-1.8 OKS points in that benchmark). auto never picks fp16 on a CPU:
# without AMX-FP16 it ran slower than fp32 there (it stays available as an explicit --precision fp16).
AUTO_ORDER = {"cpu": ("int8", "bf16", "fp32"), "cuda": ("fp16", "bf16", "fp32")}
# For each precision, the runtimes fastest first (benchmarks/pose_speed.py on the same machine). PyTorch cannot
# run the int8 model; ONNX Runtime has no bf16 CPU kernels for convolutions.
RUNTIME_ORDER = {
    "cpu": {"fp32": ("openvino", "onnxruntime", "pytorch"), "bf16": ("openvino", "pytorch"),
            "fp16": ("openvino", "pytorch"), "int8": ("openvino", "onnxruntime")},
    "cuda": {"fp32": ("pytorch", "onnxruntime"), "bf16": ("pytorch",), "fp16": ("pytorch",), "int8": ()},
}
RUNTIME_PACKAGES = {"pytorch": "torch", "onnxruntime": "onnxruntime", "openvino": "openvino"}


class PrecisionError(ValueError):
    """A precision or runtime this device or installation cannot run; the message says what to use instead."""


@dataclass(frozen=True)
class DeviceAbilities:
    """What a device runs natively: ``kind`` cpu/cuda, a ``description`` for run headers, the ``native``
    precisions and for each the flag or capability that provides it (``evidence``)."""

    kind: str
    description: str
    native: frozenset
    evidence: tuple[tuple[str, str], ...] = ()

    def why(self, precision: str) -> str:
        return dict(self.evidence).get(precision, "")


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision and runtime a run uses, and why (printed in the run header and the timing table)."""

    precision: str
    runtime: str
    reason: str
    reference: bool = False      # fp32 by name in the model's own runtime: the reference numbers, nothing converted

    def describe(self) -> str:
        return f"{self.precision} on {self.runtime} ({self.reason})"


def read_cpu_flags(path: str | Path = "/proc/cpuinfo") -> frozenset:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``); empty where the file is absent (then: fp32 only)."""
    try:
        text = Path(path).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags") and ":" in line:
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_summary(path: str | Path = "/proc/cpuinfo") -> str:
    """CPU model, core count and the flags that decide inference speed, for benchmark headers."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        lines = []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")
    return f"{model}, {os.cpu_count()} logical cores, {cpu_abilities(read_cpu_flags(path)).description}"


def cpu_abilities(flags: Iterable[str] | None = None) -> DeviceAbilities:
    """The CPU's native precisions from its flags; ``flags`` simulates another CPU (tests, what-ifs)."""
    flags = read_cpu_flags() if flags is None else frozenset(flags)
    native, evidence = {"fp32"}, [("fp32", "every CPU")]
    for precision, needed in CPU_NATIVE_FLAGS.items():
        present = [flag for flag in needed if flag in flags]
        if present:
            native.add(precision)
            evidence.append((precision, "+".join(present)))
    shown = [flag for flag in CPU_REPORTED_FLAGS if flag in flags]
    return DeviceAbilities("cpu", f"CPU flags: {' '.join(shown) or 'none of ' + ', '.join(CPU_REPORTED_FLAGS)}",
                           frozenset(native), tuple(evidence))


def cuda_abilities(device: str = "cuda", capability: tuple[int, int] | None = None,
                   name: str = "") -> DeviceAbilities:
    """A CUDA GPU's native precisions from its compute capability (given, or read from the device)."""
    if capability is None:
        import torch

        if not torch.cuda.is_available():
            raise PrecisionError(f"device {device} was asked for but no CUDA GPU is available; use --device cpu")
        capability = torch.cuda.get_device_capability(device)
        name = name or torch.cuda.get_device_name(device)
    native, evidence = {"fp32"}, [("fp32", "every GPU")]
    for precision, minimum in CUDA_NATIVE_CAPABILITY.items():
        if tuple(capability) >= minimum:
            native.add(precision)
            evidence.append((precision, f"tensor cores, compute capability {capability[0]}.{capability[1]}"))
    return DeviceAbilities("cuda", f"{name or 'CUDA GPU'}, compute capability {capability[0]}.{capability[1]}",
                           frozenset(native), tuple(evidence))


def device_abilities(device: str = "cpu", cpu_flags: Iterable[str] | None = None) -> DeviceAbilities:
    """:func:`cpu_abilities` or :func:`cuda_abilities` for a device string (cpu, cuda, cuda:N)."""
    return cuda_abilities(device) if str(device).startswith("cuda") else cpu_abilities(cpu_flags)


def installed_runtimes(export: bool = False) -> tuple[str, ...]:
    """The runtimes whose Python package is importable here; with ``export`` (a PyTorch model that the ONNX
    runtimes get through ``pose.export``) those need the ``onnx`` and ``onnxscript`` packages too."""
    found = tuple(r for r, package in RUNTIME_PACKAGES.items() if importlib.util.find_spec(package) is not None)
    if export and any(importlib.util.find_spec(package) is None for package in ("onnx", "onnxscript")):
        found = tuple(r for r in found if r == "pytorch")
    return found


def check_choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    value = str(value).strip().lower()
    if value not in (AUTO,) + allowed:
        raise PrecisionError(f"{what} {value!r} is not one of {', '.join((AUTO,) + allowed)}; pick one of those")
    return value


def resolve_precision(precision: str = AUTO, runtime: str = AUTO, abilities: DeviceAbilities | None = None,
                      available: Iterable[str] | None = None, onnx_model: bool = False) -> PrecisionChoice:
    """The precision and runtime to run with, from the request, the device's abilities and the installed runtimes.

    ``onnx_model``: the weights are an ONNX file, which PyTorch cannot run. Raises :class:`PrecisionError` for
    a precision the device does not do natively, a runtime that cannot run it or is not installed.
    """
    precision = check_choice(precision, PRECISIONS, "precision")
    runtime = check_choice(runtime, RUNTIMES, "runtime")
    abilities = abilities or cpu_abilities()
    available = tuple(installed_runtimes(export=not onnx_model) if available is None else available)
    if onnx_model:
        available = tuple(r for r in available if r != "pytorch")

    def runtimes_for(p: str) -> tuple[str, ...]:
        order = RUNTIME_ORDER[abilities.kind][p]
        return tuple(r for r in order if r in available and (runtime == AUTO or r == runtime))

    if precision == AUTO:
        skipped = []     # faster precisions the device does natively but this run cannot use, and why
        for candidate in AUTO_ORDER[abilities.kind]:
            if candidate not in abilities.native:
                continue
            if onnx_model and candidate == "int8":
                skipped.append("int8 (a given ONNX model's int8 accuracy is unchecked)")
            elif not runtimes_for(candidate):
                skipped.append(f"{candidate} (no installed runtime runs it)")
            else:
                reason = _auto_reason(candidate, abilities, skipped)
                return _with_runtime(candidate, runtime, runtimes_for(candidate), reason)
        raise PrecisionError(f"no installed runtime runs this model on {abilities.kind} (installed: "
                             f"{', '.join(available) or 'none'}); install openvino or onnxruntime, or use "
                             f"--runtime auto")
    if precision not in abilities.native:
        raise PrecisionError(_not_native_message(precision, abilities))
    reason = f"asked for; native: {abilities.why(precision)}"
    reference = "onnxruntime" if onnx_model else "pytorch"
    if precision == "fp32" and runtime == AUTO and reference in runtimes_for("fp32"):
        # fp32 asked for by name: the model in its reference runtime (a checkpoint in PyTorch, no export; an .onnx
        # file in ONNX Runtime); --runtime openvino takes the faster fp32 of RUNTIME_ORDER
        return PrecisionChoice("fp32", reference, f"asked for: the {reference} reference path", reference=True)
    return _with_runtime(precision, runtime, runtimes_for(precision), reason,
                         RUNTIME_ORDER[abilities.kind][precision], available)


def _with_runtime(precision: str, runtime: str, candidates: tuple[str, ...], reason: str,
                  possible: tuple[str, ...] = (), available: tuple[str, ...] = ()) -> PrecisionChoice:
    if candidates:
        chosen = candidates[0]
        how = "asked for" if runtime != AUTO else "fastest installed"
        return PrecisionChoice(precision, chosen, f"{reason}; runtime {how}")
    if runtime != AUTO and runtime not in possible:
        raise PrecisionError(f"runtime {runtime} cannot run {precision} here; use one of "
                             f"{', '.join(possible) or 'no runtime on this device'} or --runtime auto")
    missing = [r for r in (possible if runtime == AUTO else (runtime,)) if r not in available]
    raise PrecisionError(f"{precision} needs {' or '.join(missing)}, which is not installed (or cannot run this "
                         f"model); pip install {RUNTIME_PACKAGES.get(missing[0], missing[0]) if missing else '?'} "
                         f"or choose another --precision")


def _auto_reason(chosen: str, abilities: DeviceAbilities, skipped: list[str]) -> str:
    passed = f"; skipped: {', '.join(skipped)}" if skipped else ""
    if chosen == "fp32":
        faster = [p for p in AUTO_ORDER[abilities.kind][:AUTO_ORDER[abilities.kind].index("fp32")]
                  if p not in abilities.native]
        lacking = f"no native {'/'.join(faster)} on this {abilities.kind}" if faster else "fp32"
        return f"auto: {lacking} ({abilities.description}){passed}"
    return f"auto: native {chosen} ({abilities.why(chosen)}), the fastest measured{passed}"


def _not_native_message(precision: str, abilities: DeviceAbilities) -> str:
    if abilities.kind == "cpu":
        needs = " or ".join(CPU_NATIVE_FLAGS.get(precision, ()))
        return (f"this CPU cannot run {precision} natively (it needs {needs}; {abilities.description}); "
                f"use --precision auto or fp32")
    if precision == "int8":
        return "int8 runs on CPUs only; on a GPU use --precision auto, fp16 or fp32"
    minimum = CUDA_NATIVE_CAPABILITY[precision]
    return (f"this GPU cannot run {precision} natively (it needs compute capability {minimum[0]}.{minimum[1]}; "
            f"{abilities.description}); use --precision auto or fp32")


# Training: AMP (fp16 autocast + loss scaling) on a GPU, bf16 autocast on a CPU that does bf16 natively.
TRAIN_PRECISIONS = ("fp32", "bf16", "fp16")


def training_precision(requested: str = AUTO, device: str = "cpu", amp: bool = True,
                       abilities: DeviceAbilities | None = None) -> PrecisionChoice:
    """The autocast precision of a training run (runtime ``pytorch``): ``auto`` = fp16 AMP on a GPU (unless
    ``train.amp`` is false), bf16 on a CPU with native bf16, else fp32. bf16/fp16 must be native; fp16 trains
    on GPUs only (its loss scaling is CUDA's)."""
    requested = check_choice(requested, TRAIN_PRECISIONS, "train.precision")
    abilities = abilities or device_abilities(device)
    if requested == AUTO:
        if abilities.kind == "cuda":
            chosen = "fp16" if amp and "fp16" in abilities.native else "fp32"
            why = "auto: AMP on the GPU" if chosen == "fp16" else "auto: train.amp is off or no fp16 tensor cores"
        elif "bf16" in abilities.native:
            chosen, why = "bf16", f"auto: native bf16 on this CPU ({abilities.why('bf16')})"
        else:
            chosen, why = "fp32", f"auto: no native bf16 on this CPU ({abilities.description})"
        return PrecisionChoice(chosen, "pytorch", why)
    if requested == "fp16" and abilities.kind != "cuda":
        raise PrecisionError("train.precision fp16 trains on a GPU only (CUDA loss scaling); on a CPU use bf16, "
                             "fp32 or auto")
    if requested not in abilities.native:
        raise PrecisionError(_not_native_message(requested, abilities).replace("--precision", "train.precision"))
    return PrecisionChoice(requested, "pytorch", f"asked for; native: {abilities.why(requested)}")
