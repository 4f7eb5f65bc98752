"""Pose configs: the paper's settings load from YAML, overrides apply, mistakes are named."""
import pytest

from pose.config import CONFIG_ROOT, ConfigError, load_config

PAPER_CONFIGS = ["coco_w32_256x192", "coco_w32_384x288", "coco_w48_256x192", "coco_w48_384x288",
                 "mpii_w32_256x256", "mpii_w48_256x256"]


@pytest.mark.parametrize("name", PAPER_CONFIGS)
def test_paper_configs_load(name):
    cfg = load_config(name)
    width, size = name.split("_")[1:]
    h, w = map(int, size.split("x"))
    assert cfg.model.width == int(width[1:])
    assert cfg.model.image_size == (w, h)
    assert cfg.model.heatmap_size == (w // 4, h // 4)
    assert cfg.model.sigma == (3.0 if h == 384 else 2.0)
    assert cfg.train.lr == 1e-3 and cfg.train.lr_steps == (170, 200) and cfg.train.epochs == 210


def test_overrides_and_yaml_path(tmp_path):
    cfg = load_config(CONFIG_ROOT / "pose" / "coco_w32_256x192.yaml", ["train.lr=1e-4", "train.lr_steps=[10, 15]"])
    assert cfg.train.lr == pytest.approx(1e-4) and cfg.train.lr_steps == (10, 15)


@pytest.mark.parametrize("overrides, message", [
    (["train.learning_rate=1"], "unknown config key 'train.learning_rate'"),
    (["lr=1"], "must be section.key"),
    (["train.lr"], "must look like section.key=value"),
    (["train.epochs=ten"], "'train.epochs' needs a int"),
])
def test_bad_overrides_are_named(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config("coco_w32_256x192", overrides)


def test_unknown_config_lists_the_available_ones():
    with pytest.raises(ConfigError, match="coco_w32_256x192"):
        load_config("coco_w99")


@pytest.mark.parametrize("override, message", [
    ("model.image_size=[192]", "model.image_size must be"),
    ("model.heatmap_size=[10,10]", "must be model.image_size"),
    ("model.num_modules=[1,1]", "model.num_modules must be 3"),
    ("model.sigma=0", "model.sigma must be > 0"),
    ("train.lr_steps=[a,b]", "train.lr_steps must be epoch numbers"),
    ("train.batch_size=0", "train.batch_size and train.epochs"),
])
def test_values_the_model_cannot_use_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("coco_w32_256x192", [override])


def test_non_text_config_is_a_config_error(tmp_path):
    path = tmp_path / "bin.yaml"
    path.write_bytes(bytes(range(128, 256)))
    with pytest.raises(ConfigError, match="not valid YAML text"):
        load_config(path)
