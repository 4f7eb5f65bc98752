"""Work lists (--video expansion, items, shards) and rank detection for sharded runs."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from tracker.ranks import RankInfo, rank_device, rank_info, rank_threads
from tracker.video import VideoError
from tracker.worklist import WorkItem, expand_inputs, shard, video_items


def _video(path, frames=3):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for t in range(frames):
        writer.write(np.full((24, 32, 3), 20 * t, np.uint8))
    writer.release()
    return path


def test_expand_files_folder_glob_and_list(tmp_path, monkeypatch):
    folder = tmp_path / "videos"
    folder.mkdir()
    a, b, c = (_video(folder / f"{n}.avi") for n in ("b", "a", "c"))
    (folder / "notes.md").write_text("not a video")
    frames = tmp_path / "seq_frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "000000.jpg"), np.zeros((8, 8, 3), np.uint8))
    assert expand_inputs([str(folder)]) == sorted([a, b, c])
    assert expand_inputs([str(folder / "*.avi")]) == sorted([a, b, c])
    assert expand_inputs([str(c), str(a)]) == [c, a]                      # files keep the given order
    assert expand_inputs([str(frames)]) == [frames]                       # a frame folder is one video
    listing = tmp_path / "list.txt"
    listing.write_text(f"# my videos\n{c}\n\n{frames}\n{c}\n")
    assert expand_inputs([str(listing)]) == [c, frames]                   # duplicates once
    monkeypatch.chdir(tmp_path)
    assert expand_inputs(["videos/a*.avi"]) == [folder.relative_to(tmp_path) / "a.avi"]


def test_expand_errors_are_one_sentence(tmp_path):
    (tmp_path / "x").mkdir()
    _video(tmp_path / "x" / "clip.avi")
    _video(tmp_path / "clip.avi")
    with pytest.raises(VideoError, match="both called clip"):
        expand_inputs([str(tmp_path / "clip.avi"), str(tmp_path / "x")])
    with pytest.raises(VideoError, match="matches no file"):
        expand_inputs([str(tmp_path / "*.mp4")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoError, match="holds no videos"):
        expand_inputs([str(tmp_path / "empty")])
    (tmp_path / "none.txt").write_text("# nothing\n")
    with pytest.raises(VideoError, match="names no file"):
        expand_inputs([str(tmp_path / "none.txt")])


def test_video_items_count_frames_and_name_them(tmp_path):
    clip = _video(tmp_path / "clip.avi", frames=5)
    frames = tmp_path / "seq"
    frames.mkdir()
    for name in ("b.png", "a.png", "c.png"):
        cv2.imwrite(str(frames / name), np.zeros((8, 8, 3), np.uint8))
    video, folder = video_items([clip, frames], max_frames=2)
    assert (video.name, video.output, video.frames) == ("clip", "clip.json", 2)
    assert video.frame_entry(1) == ("images/clip/000001.jpg", None, True)
    assert (folder.output, folder.frames) == ("seq.json", 2)
    assert folder.frame_entry(1) == ("images/seq/b.png", None, True)  # the folder's own file names, sorted
    assert [f.index for f in folder.open()] == [0, 1]


def _items(frames):
    return [WorkItem(f"s{i}", f"s{i}.json", n, None) for i, n in enumerate(frames)]


@pytest.mark.parametrize("world", [1, 2, 3, 5, 8])
def test_shards_cover_every_item_once_and_balance_frames(world):
    items = _items([40, 300, 20, 20, 100, 150, 60, 60, 10, 75, 90, 5])
    shares = [shard(items, r, world) for r in range(world)]
    outputs = sorted(i.output for share in shares for i in share)
    assert outputs == sorted(i.output for i in items)
    loads = [sum(i.frames for i in share) for share in shares]
    # longest-processing-time bound: no rank exceeds the mean by more than the longest item
    assert max(loads) <= sum(loads) / world + max(i.frames for i in items)
    for share in shares:  # each share keeps the work list's order
        assert [items.index(i) for i in share] == sorted(items.index(i) for i in share)
    assert shares == [shard(items, r, world) for r in range(world)]  # deterministic


def test_shard_of_two_hand_computed():
    items = _items([100, 60, 50, 30])
    # 100 -> rank 0; 60 -> rank 1; 50 -> rank 1 (60 < 100); 30 -> rank 0 (100 < 110)
    assert [i.output for i in shard(items, 0, 2)] == ["s0.json", "s3.json"]
    assert [i.output for i in shard(items, 1, 2)] == ["s1.json", "s2.json"]


def test_rank_info_from_torchrun_slurm_or_nothing():
    assert rank_info({}) == RankInfo()
    torchrun = rank_info({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2",
                          "MASTER_ADDR": "node1", "MASTER_PORT": "29500"})
    assert (torchrun.rank, torchrun.world_size, torchrun.local_rank, torchrun.local_world_size,
            torchrun.launcher) == (3, 4, 1, 2, "torchrun")
    slurm = rank_info({"SLURM_PROCID": "5", "SLURM_NTASKS": "7", "SLURM_LOCALID": "1", "SLURM_NODEID": "2",
                       "SLURM_TASKS_PER_NODE": "2(x2),3", "SLURM_JOB_ID": "9"})
    assert (slurm.rank, slurm.world_size, slurm.local_rank, slurm.local_world_size, slurm.launcher) == (
        5, 7, 1, 3, "slurm")
    with pytest.raises(ValueError, match="rank 4 of 4"):
        rank_info({"RANK": "4", "WORLD_SIZE": "4"})


def test_rank_device_and_threads():
    two = RankInfo(1, 2, 1, 2, "torchrun")
    assert rank_device("cuda", two, cuda_count=2) == "cuda:1"
    assert rank_device("cuda", two, cuda_count=1) == "cuda:0"   # one visible GPU per task
    assert rank_device("cpu", two, cuda_count=2) == "cpu"
    assert rank_device("cuda:0", two, cuda_count=2) == "cuda:0"  # an explicit index is kept
    assert rank_device("cuda", RankInfo(), cuda_count=2) == "cuda"
    assert rank_threads(two, cpus=16) == 8 and rank_threads(RankInfo(0, 8, 0, 8), cpus=4) == 1
