"""``python -m tracker.run`` at dataset scale: work lists, shards over ranks, resume after SIGKILL, 2017 output.

Tracking-only mode (the synthetic ground truth as untracked poses, OKS association) keeps these cheap: the run loop,
the sinks, the shards and the summaries are the same in every mode.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pose.data.posetrack import read_sequence
from tests.conftest import REPO_ROOT
from tracker import run as run_module
from tracker.run import main
from tracker.run_summary import SUMMARY_NAME

OKS = ["--set", "association.similarity=oks", "--no-progress", "--quiet"]
RANK_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                  "TORCHELASTIC_RUN_ID", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_JOB_ID",
                  "SLURM_TASKS_PER_NODE", "SLURM_NODEID")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in RANK_VARIABLES}
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env | extra


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """6 synthetic sequences (PoseTrack names, frames, ground truth), 12 frames each."""
    out = tmp_path_factory.mktemp("synthetic")
    subprocess.run([sys.executable, "-m", "pose.data.synthetic", "--out", str(out), "--videos", "6", "--frames", "12",
                    "--size", "192x144", "--seed", "3", "--quiet", "--no-videos"], check=True, cwd=REPO_ROOT,
                   env=_env(), timeout=300)
    return out


@pytest.fixture(autouse=True)
def _single_process(monkeypatch):
    for key in RANK_VARIABLES:
        monkeypatch.delenv(key, raising=False)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.json")) if not p.name.startswith("run_summary")}


@pytest.fixture(scope="module")
def single_run(dataset, tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("single")
    assert main(["--poses", str(dataset / "annotations"), "--out", str(out), *OKS]) == 0
    return _files(out)


def test_a_folder_of_poses_files_is_one_work_list_with_components_built_once(dataset, single_run, tmp_path,
                                                                              monkeypatch):
    assert sorted(single_run) == sorted(p.name for p in (dataset / "annotations").glob("*.json"))
    builds = []
    real = run_module.build_components
    monkeypatch.setattr(run_module, "build_components", lambda *a, **k: builds.append(1) or real(*a, **k))
    first = sorted((dataset / "annotations").glob("*.json"))[0]
    out = tmp_path / "one"
    assert main(["--poses", str(first), "--out", str(out), *OKS]) == 0
    assert _files(out) == {first.name: single_run[first.name]}  # the same bytes alone as within the work list
    glob_out = tmp_path / "glob"
    assert main(["--poses", str(dataset / "annotations" / "*.json"), "--out", str(glob_out), *OKS]) == 0
    assert _files(glob_out) == single_run
    assert len(builds) == 2  # once per process, whatever the number of items
    summary = json.loads((glob_out / SUMMARY_NAME).read_text())
    assert sorted(i["item"] for i in summary["items"]) == sorted(single_run)
    assert {i["frames"] for i in summary["items"]} == {12} and {i["rank"] for i in summary["items"]} == {0}
    assert summary["config_hash"] and "numpy" in summary["versions"]


@pytest.mark.parametrize("launcher,world", [("torchrun", 2), ("torchrun", 3), ("slurm", 3)])
def test_ranks_from_the_environment_do_each_item_once(dataset, single_run, tmp_path, monkeypatch, launcher, world):
    out = tmp_path / "out"
    names = {"torchrun": ("RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_RUN_ID"),
             "slurm": ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_JOB_ID")}[launcher]
    monkeypatch.setenv(names[1], str(world))
    monkeypatch.setenv(names[3], f"test-{world}")
    for rank in [*range(1, world), 0]:  # rank 0 last: without a process group it reads the others' summary files
        monkeypatch.setenv(names[0], str(rank))
        monkeypatch.setenv(names[2], str(rank))
        assert main(["--poses", str(dataset / "annotations"), "--out", str(out), *OKS]) == 0
    assert _files(out) == single_run
    items = json.loads((out / SUMMARY_NAME).read_text())["items"]
    assert sorted(i["item"] for i in items) == sorted(single_run)  # every sequence exactly once
    assert {i["rank"] for i in items} == set(range(world))


def test_torchrun_two_ranks_on_cpu_equal_one_process(dataset, single_run, tmp_path):
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                             "--master_port", str(_free_port()), "-m", "tracker.run", "--poses", str(dataset / "annotations"),
                             "--out", str(out), "--set", "association.similarity=oks", "--no-progress"],
                            capture_output=True, text=True, cwd=REPO_ROOT, env=_env(), timeout=300)
    assert result.returncode == 0, result.stderr
    assert _files(out) == single_run
    items = json.loads((out / SUMMARY_NAME).read_text())["items"]
    assert sorted(i["item"] for i in items) == sorted(single_run) and {i["rank"] for i in items} == {0, 1}
    assert result.stderr.count("(wall = the slowest rank)") == 1  # one merged table, from rank 0


def test_sigkill_after_two_sequences_then_resume_finishes_the_rest(dataset, tmp_path):
    command = [sys.executable, "-m", "tracker.run", "--poses", str(dataset / "annotations"), "--images",
               str(dataset), "--no-progress", "--quiet"]  # frames and optical flow: slow enough to stop midway
    reference = tmp_path / "reference"
    subprocess.run([*command, "--out", str(reference)], check=True, cwd=REPO_ROOT, env=_env(), timeout=600)
    out = tmp_path / "out"
    process = subprocess.Popen([*command, "--out", str(out)], cwd=REPO_ROOT, env=_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    summary = out / SUMMARY_NAME
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if summary.exists() and len(json.loads(summary.read_text())["items"]) >= 2:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be stopped"
    done = {i["item"]: i for i in json.loads(summary.read_text())["items"]}
    assert 2 <= len(done) < 6
    assert set(_files(out)) == set(done)  # the item in flight left no file under its name
    result = subprocess.run([*command, "--out", str(out), "--resume"], capture_output=True, text=True, cwd=REPO_ROOT,
                            env=_env(), timeout=600)
    assert result.returncode == 0, result.stderr
    rewritten = {Path(line.split()[-1]).name for line in result.stdout.splitlines() if line.startswith("wrote ")}
    assert rewritten == set(_files(reference)) - set(done)  # the finished ones were not redone
    assert _files(out) == _files(reference)
    items = json.loads(summary.read_text())["items"]
    assert sorted(i["item"] for i in items) == sorted(_files(reference))
    assert all(done[i["item"]] == i for i in items if i["item"] in done)  # their records kept
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporaries left behind


def test_resume_redoes_a_damaged_or_missing_output(dataset, single_run, tmp_path):
    out = tmp_path / "out"
    args = ["--poses", str(dataset / "annotations"), "--out", str(out), *OKS]
    assert main(args) == 0
    names = sorted(single_run)
    damaged = out / names[1]
    damaged.write_bytes(damaged.read_bytes()[:-100])
    (out / names[4]).unlink()
    before = {name: (out / name).stat().st_mtime_ns for name in names if (out / name).exists()}
    assert main([*args, "--resume"]) == 0
    assert _files(out) == single_run
    redone = {name for name in names if (out / name).stat().st_mtime_ns != before.get(name)}
    assert redone == {names[1], names[4]}


def test_format_2017_and_auto(dataset, tmp_path):
    poses = sorted((dataset / "annotations").glob("*.json"))[0]
    out = tmp_path / "out"
    assert main(["--poses", str(poses), "--out", str(out), "--format", "2017", *OKS]) == 0
    data = json.loads((out / poses.name).read_text())
    assert list(data) == ["annolist"]
    prediction = read_sequence(out / poses.name, role="pred")
    assert prediction.source_format == "2017" and len(prediction.frames) == 12
    auto = tmp_path / "auto"
    assert main(["--poses", str(poses), "--out", str(auto), *OKS]) == 0  # auto outside submission mode: 2018
    assert "images" in json.loads((auto / poses.name).read_text())


def test_detection_folder_gives_each_item_its_own_boxes(dataset):
    import numpy as np

    from tracker.config import load_track_config
    from tracker.detectors import parse_detector_spec
    from tracker.run import item_detector
    from tracker.types import Frame
    from tracker.worklist import sequence_items

    config = load_track_config("default")
    config = config.replace(detector=parse_detector_spec(f"file:{dataset / 'detections'}", config.detector))
    gt_file = sorted((dataset / "annotations").glob("*.json"))[2]
    item = sequence_items([(gt_file, read_sequence(gt_file, role="gt"))], dataset)[0]
    boxes = item_detector(config, item, None)(Frame(3, np.zeros((4, 4, 3), np.uint8)))
    # the detection file holds frame-index ids; the sequence has poseval's ids: looked up by frame index
    expected = [d for d in json.loads((dataset / "detections" / gt_file.name).read_text())
                if d["image_id"] == 3 and d["score"] >= config.detector.score_threshold]
    assert len(boxes) == len(expected) > 0
