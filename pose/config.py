"""Experiment configs: YAML files read into dataclasses.

A config file has the sections ``model``, ``data``, ``train``, ``test`` and ``network`` (what an ONNX pose model
takes and gives; HRNet's values by default); every key has a default here, so a
YAML names only what differs. ``load_config`` takes a path or the name of a file in ``configs/pose/`` and
``KEY=VALUE`` overrides such as ``train.lr=1e-4`` (values parsed as YAML scalars).
"""
from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from posetrack_common.boxes import PERSON_BOX_EXTEND

def _config_root() -> Path:
    """configs/ beside the packages in a checkout; in a non-editable install, the package posetrack_configs."""
    checkout = Path(__file__).resolve().parent.parent / "configs"
    if checkout.is_dir():
        return checkout
    spec = importlib.util.find_spec("posetrack_configs")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return checkout


CONFIG_ROOT = _config_root()


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message says which key and why."""


@dataclass
class ModelConfig:
    num_joints: int = 17
    keypoints: str = "coco17"                  # layout name in pose.keypoints
    image_size: tuple[int, int] = (192, 256)   # (width, height) of the input crop, as the official yamls
    heatmap_size: tuple[int, int] = (48, 64)   # (width, height), input / 4
    sigma: float = 2.0                         # target Gaussian sigma (paper: 2 at 256x192, 3 at 384x288)
    width: int = 32                            # channels of the highest-resolution branch (W32, W48)
    stem_channels: int = 64
    num_modules: tuple[int, int, int] = (1, 4, 3)   # exchange units in stages 2, 3, 4 (paper: 1, 4, 3)
    num_blocks: int = 4                        # residual units per branch per exchange unit
    pretrained: str = ""                       # ImageNet backbone checkpoint for training initialisation


@dataclass
class DataConfig:
    dataset: str = "coco"                      # coco | mpii | posetrack17 | posetrack18 | synthetic
    root: str = ""
    train_set: str = "train2017"
    val_set: str = "val2017"
    detection_file: str = ""                   # person boxes for validation (COCO results format)
    use_gt_bbox: bool = True
    color_rgb: bool = True
    flip: bool = True
    scale_factor: float = 0.35                 # official COCO yaml; MPII 0.25
    rot_factor: float = 45.0                   # degrees; MPII 30
    prob_half_body: float = 0.3
    num_joints_half_body: int = 8
    box_padding: float = 1.25                  # box -> scale enlargement of the official code
    workers: int = 4
    # Added for training (issue 4):
    keypoint_box_extend: float = PERSON_BOX_EXTEND  # PoseTrack training boxes: keypoints' box 15% longer


@dataclass
class TrainConfig:
    batch_size: int = 32                       # per GPU / process
    epochs: int = 210
    optimizer: str = "adam"
    lr: float = 1e-3
    lr_steps: tuple[int, ...] = (170, 200)     # paper: x0.1 at epochs 170 and 200
    lr_factor: float = 0.1
    weight_decay: float = 0.0
    momentum: float = 0.9
    use_target_weight: bool = True
    amp: bool = True                           # used on GPU only (train.precision auto: fp16 AMP when true)
    precision: str = "auto"                    # auto | fp32 | bf16 | fp16 autocast: auto = fp16 AMP on GPU, bf16
                                               # on a CPU with native bf16 (AMX / AVX512-BF16), else fp32
    seed: int = 0
    output_dir: str = "runs"
    init_weights: str = ""                     # checkpoint to start from (PoseTrack fine-tuning: a COCO model)
    max_steps_per_epoch: int = 0               # 0 = the whole dataset
    print_freq: int = 50
    # Added for training (issue 4):
    nesterov: bool = False                     # SGD only
    use_different_joints_weight: bool = False  # official LOSS.USE_DIFFERENT_JOINTS_WEIGHT (COCO joint weights)
    val_every: int = 1                         # validate every N epochs (and after the last one); 0 = never
    max_val_samples: int = 0                   # 0 = the whole validation set


@dataclass
class TestConfig:
    batch_size: int = 32
    flip_test: bool = True
    shift_heatmap: bool = True
    post_process: bool = True                  # quarter-offset decoding
    oks_thre: float = 0.9
    in_vis_thre: float = 0.2
    image_thre: float = 0.0
    soft_nms: bool = False


# ImageNet statistics used by the official tools/train.py and tools/test.py (torchvision Normalize).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class NetworkConfig:
    """What the network takes and gives, for a pose model run from a file (ONNX) rather than built here.

    The crop itself comes from the other sections: ``model.image_size`` (input width/height, hence the crop's
    aspect), ``data.box_padding``, ``data.color_rgb`` (channel order) and ``model.keypoints`` (joint layout).
    The defaults are HRNet's: float32 NCHW, ImageNet mean/std, heatmaps.
    """

    output: str = "heatmaps"                   # heatmaps (B, K, h, w) | keypoints (B, [1,] K, 3): y, x in 0-1 of the
                                               # crop and a score per joint (MoveNet)
    input_dtype: str = "float32"               # float32 | uint8 | int32
    input_layout: str = "nchw"                 # nchw | nhwc
    mean: tuple[float, ...] = IMAGENET_MEAN    # per channel, in pixel / 255 units (torchvision Normalize);
    std: tuple[float, ...] = IMAGENET_STD      # [] and [] = raw 0-255 values


NETWORK_OUTPUTS = ("heatmaps", "keypoints")
INPUT_DTYPES = ("float32", "uint8", "int32")
INPUT_LAYOUTS = ("nchw", "nhwc")


@dataclass
class Config:
    name: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    test: TestConfig = field(default_factory=TestConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_SECTIONS = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig, "test": TestConfig,
             "network": NetworkConfig}


def coerce_value(value, default, key: str, error: type[ValueError] = ConfigError):
    """A YAML value converted to the type of the field's default (tuples from lists, floats from ints).

    ``error`` is the exception raised, naming ``key``, when the value does not fit.
    """
    if isinstance(default, tuple):
        if isinstance(value, (list, tuple)):
            return tuple(value)
    elif isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:  # YAML 1.1 reads "1e-4" (no dot) as a string
                return float(value)
            except ValueError:
                pass
    elif isinstance(default, str):
        if value is None:  # `key:` with nothing after it
            return ""
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    wanted = {tuple: "a list", bool: "true or false"}.get(type(default), f"a {type(default).__name__}")
    raise error(f"config key {key!r} needs {wanted}, got {value!r}")


def build_section(cls, values: dict | None, section: str, error: type[ValueError] = ConfigError):
    """The dataclass ``cls`` from a YAML mapping; unknown keys and values of the wrong type raise ``error``."""
    if values is not None and not isinstance(values, dict):
        raise error(f"config section {section!r} must be a mapping of keys to values")
    known = {f.name for f in dataclasses.fields(cls)}
    defaults = cls()
    kwargs = {}
    for key, value in (values or {}).items():
        if key not in known:
            raise error(f"unknown config key '{section}.{key}'; known keys: {', '.join(sorted(known))}")
        kwargs[key] = coerce_value(value, getattr(defaults, key), f"{section}.{key}", error)
    return cls(**kwargs)


def config_from_dict(raw: dict, name: str = "") -> Config:
    if not isinstance(raw, dict):
        raise ConfigError("a config must be a YAML mapping with sections model, data, train, test")
    unknown = set(raw) - set(_SECTIONS) - {"name"}
    if unknown:
        raise ConfigError(f"unknown config section(s) {sorted(unknown)}; known: name, {', '.join(_SECTIONS)}")
    sections = {s: build_section(cls, raw.get(s), s) for s, cls in _SECTIONS.items()}
    return validate(Config(name=raw.get("name", name), **sections))


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _whole_numbers(values, count: int | None, low: int) -> bool:
    return (count is None or len(values) == count) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= low for v in values)


def validate(cfg: Config) -> Config:
    """Values the model, the data pipeline or the schedule cannot work with, named before anything runs."""
    m, t = cfg.model, cfg.train
    _check(_whole_numbers(m.image_size, 2, 4), f"model.image_size must be [width, height] in pixels, got {m.image_size}")
    _check(_whole_numbers(m.heatmap_size, 2, 1), f"model.heatmap_size must be [width, height], got {m.heatmap_size}")
    _check_network(cfg.network)
    # HRNet's heatmaps are a quarter of the input (the stem's two stride-2 convolutions).
    _check(cfg.network.output != "heatmaps" or tuple(m.heatmap_size) == (m.image_size[0] // 4, m.image_size[1] // 4) and m.image_size[0] % 4 == 0
           and m.image_size[1] % 4 == 0,
           f"model.heatmap_size {list(m.heatmap_size)} must be model.image_size {list(m.image_size)} / 4 "
           f"(image sizes divisible by 4)")
    _check(_whole_numbers(m.num_modules, 3, 1), f"model.num_modules must be 3 whole numbers >= 1 (stages 2, 3, 4), "
           f"got {m.num_modules}")
    for key in ("num_joints", "width", "stem_channels", "num_blocks"):
        _check(_whole_numbers([getattr(m, key)], 1, 1), f"model.{key} must be a whole number >= 1")
    _check(m.sigma > 0, f"model.sigma must be > 0, got {m.sigma}")
    _check(_whole_numbers(t.lr_steps, None, 0), f"train.lr_steps must be epoch numbers, got {t.lr_steps}")
    _check(t.lr > 0 and t.lr_factor > 0, "train.lr and train.lr_factor must be > 0")
    _check(t.batch_size >= 1 and t.epochs >= 1, "train.batch_size and train.epochs must be at least 1")
    _check(t.precision in ("auto", "fp32", "bf16", "fp16"),
           f"train.precision must be auto, fp32, bf16 or fp16, got {t.precision!r}")
    _check(cfg.data.workers >= 0 and cfg.test.batch_size >= 1, "data.workers must be >= 0, test.batch_size >= 1")
    return cfg


def _check_network(n: NetworkConfig) -> None:
    _check(n.output in NETWORK_OUTPUTS, f"network.output must be one of {', '.join(NETWORK_OUTPUTS)}, got {n.output!r}")
    _check(n.input_dtype in INPUT_DTYPES, f"network.input_dtype must be one of {', '.join(INPUT_DTYPES)}, "
           f"got {n.input_dtype!r}")
    _check(n.input_layout in INPUT_LAYOUTS, f"network.input_layout must be nchw or nhwc, got {n.input_layout!r}")
    _check(len(n.mean) == len(n.std) and len(n.mean) in (0, 3),
           f"network.mean and network.std must both have 3 values (one per channel) or both be [], got "
           f"{list(n.mean)} and {list(n.std)}")
    _check(all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in n.mean + n.std)
           and all(v > 0 for v in n.std), "network.mean must be numbers and network.std numbers > 0")


def resolve_config_path(name_or_path: str | Path, kind: str = "pose", error: type[ValueError] = ConfigError) -> Path:
    """A YAML file that exists, or the name of a YAML in ``configs/<kind>/`` (with or without ``.yaml``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    folder = CONFIG_ROOT / kind
    if not folder.is_dir():
        raise error(f"config {str(name_or_path)!r} not found, and {folder} (the project's configs) is missing; "
                    f"give a YAML path, or install the checkout in editable mode (pip install -e .)")
    candidate = folder / f"{path.stem}.yaml"
    if path.parent == Path(".") and candidate.exists():
        return candidate
    available = sorted(p.stem for p in folder.glob("*.yaml"))
    raise error(f"config {str(name_or_path)!r} not found: give a YAML path or one of the {kind} configs "
                f"{', '.join(available) or '(none)'}")


def apply_overrides(raw: dict, overrides: list[str] | dict | None, sections=None, top_level: tuple[str, ...] = (),
                    error: type[ValueError] = ConfigError, example: str = "train.lr=1e-4") -> dict:
    """``section.key=value`` strings (values parsed as YAML) or a ``{"section.key": value}`` mapping applied to a
    copy of a raw config mapping. ``sections``: the section names (default: the pose config's); ``top_level``: keys
    without a section (the track config's ``device``). Used for the pose and the track configs alike."""
    sections = list(_SECTIONS if sections is None else sections)
    items = list(overrides.items()) if isinstance(overrides, dict) else []
    for item in overrides if isinstance(overrides, list) else []:
        if "=" not in item:
            raise error(f"override {item!r} must look like section.key=value, e.g. {example}")
        dotted, text = item.split("=", 1)
        items.append((dotted.strip(), yaml.safe_load(text)))
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for dotted, value in items:
        parts = dotted.split(".")
        if len(parts) == 1 and parts[0] in top_level:
            raw[parts[0]] = value
        elif len(parts) == 2 and parts[0] in sections:
            raw.setdefault(parts[0], {})
            raw[parts[0]] = dict(raw[parts[0]] or {})
            raw[parts[0]][parts[1]] = value
        else:
            alone = f", or one of {', '.join(top_level)}" if top_level else ""
            raise error(f"override key {dotted!r} must be section.key with section in {', '.join(sections)}{alone}")
    return raw


def load_config(name_or_path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read a pose config by path or by name (``coco_w32_256x192``), then apply ``KEY=VALUE`` overrides."""
    path = resolve_config_path(name_or_path, "pose")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"config {path} is not valid YAML text: {error}") from None
    raw = apply_overrides(raw, overrides or [])
    return config_from_dict(raw, name=path.stem)
