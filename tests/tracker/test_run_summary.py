"""run_summary.json: per-item records, per-rank parts merged by rank 0, resume checks of finished outputs."""
from __future__ import annotations

import json
import threading
import time

import numpy as np

from pose.data.posetrack import sequence_from_arrays, write_sequence
from tracker.config import load_track_config
from tracker.ranks import Collector, RankInfo
from tracker.run_summary import (SUMMARY_NAME, RunSummary, config_hash, output_is_done, part_name, timing_table,
                                 warn_if_config_changed)
from tracker.worklist import WorkItem


def test_single_process_summary_is_updated_per_item_and_kept_on_resume(tmp_path):
    h = config_hash(load_track_config("default"))
    summary = RunSummary(tmp_path, 0, 1, h)
    summary.record("a.json", 10, 1.5)
    data = json.loads((tmp_path / SUMMARY_NAME).read_text())
    assert data["items"] == [{"item": "a.json", "rank": 0, "frames": 10, "seconds": 1.5}]
    assert data["config_hash"] == h and "numpy" in data["versions"]
    summary.record("b.json", 4, 0.25)
    resumed = RunSummary(tmp_path, 0, 1, h, resume=True)
    resumed.record("b.json", 4, 0.5)  # redone: replaces the old record, a.json stays
    items = json.loads((tmp_path / SUMMARY_NAME).read_text())["items"]
    assert [(i["item"], i["seconds"]) for i in items] == [("a.json", 1.5), ("b.json", 0.5)]
    assert warn_if_config_changed(resumed) is None
    other = RunSummary(tmp_path, 0, 1, config_hash(load_track_config("default", ["nms.iou_threshold=0.3"])),
                       resume=True)
    assert "another config" in warn_if_config_changed(other)


def test_config_hash_ignores_the_device_only():
    base = load_track_config("default")
    assert config_hash(base) == config_hash(base.replace(device="cuda:1"))
    assert config_hash(base) != config_hash(load_track_config("default", ["association.memory=5"]))


def test_ranks_write_parts_and_rank0_merges_them_through_the_files(tmp_path):
    summaries = [RunSummary(tmp_path, r, 3, "h", run_id="launch-1") for r in range(3)]
    summaries[1].record("b.json", 7, 2.0)
    summaries[2].record("c.json", 3, 1.0)
    summaries[0].record("a.json", 5, 1.0)  # rank 0 folds in what it sees
    assert [i["item"] for i in json.loads((tmp_path / SUMMARY_NAME).read_text())["items"]] == [
        "a.json", "b.json", "c.json"]
    for s in summaries[1:]:
        s.wall = 3.0
        s.write(finished=True)
    stale = json.loads((tmp_path / part_name(2)).read_text()) | {"run_id": "old-launch"}
    assert summaries[0].read_part(1) is not None
    (tmp_path / part_name(2)).write_text(json.dumps(stale))
    assert summaries[0].read_part(2) is None  # a part of another launch is not this run's
    summaries[2].write(finished=True)
    collector = Collector(RankInfo(0, 3, 0, 3, "slurm", "launch-1"), summaries[0].read_part, poll_seconds=0.01,
                          environ={})
    parts = collector.gather(summaries[0].part(finished=True))
    assert [p["rank"] for p in parts] == [0, 1, 2]
    summaries[0].merge(parts)
    table = timing_table(parts)
    rows = {line.split()[0]: line.split()[1:5] for line in table.splitlines()[1:]}
    assert rows["1"] == ["1", "7", "3.00", "2.33"]                  # rank 1: 1 item, 7 frames in 3 s
    assert rows["all"] == ["3", "15", "3.00", "5.00"]               # wall = the slowest rank
    assert Collector(RankInfo(1, 3, 1, 3, "slurm", "launch-1"), summaries[1].read_part, environ={}).gather({}) is None


def test_rank0_stops_waiting_for_a_rank_whose_heartbeat_stopped(tmp_path, capsys):
    """Slurm without a process group: rank 2 was SIGKILLed (its heartbeat file stays still), rank 1 is slow but
    alive (its heartbeat moves) and finishes; rank 0 gathers rank 1 and reports rank 2 missing, without hanging."""
    summaries = [RunSummary(tmp_path, r, 3, "h", run_id="launch-1") for r in range(3)]
    beat = 0.2                                                         # silent for 10 beats (2 s): taken as gone
    alive = Collector(RankInfo(1, 3, 1, 3, "slurm", "launch-1"), summaries[1].read_part, environ={},
                      heartbeat=summaries[1].heartbeat, heartbeat_seconds=beat)
    summaries[2].heartbeat(2).touch()                                  # beat once, then killed
    summaries[2].record("c.json", 3, 1.0)                              # its finished item is kept

    def finish_rank1_later():
        time.sleep(15 * beat)                                          # longer than the stale limit: alive anyway
        summaries[1].record("b.json", 7, 2.0)
        summaries[1].write(finished=True)
        alive.close()

    thread = threading.Thread(target=finish_rank1_later)
    thread.start()
    collector = Collector(RankInfo(0, 3, 0, 3, "slurm", "launch-1"), summaries[0].read_part, poll_seconds=0.01,
                          environ={}, heartbeat=summaries[0].heartbeat, heartbeat_seconds=beat)
    parts = collector.gather(summaries[0].part(finished=True))
    collector.close()
    thread.join()
    assert parts[1]["items"][0]["item"] == "b.json" and parts[2] == {"rank": 2, "missing": True}
    assert "rank(s) 2 stopped without finishing" in capsys.readouterr().err
    assert "(no report: the rank failed or was stopped)" in timing_table(parts)


def test_output_is_done_reads_back_and_compares_images(tmp_path):
    names = [f"images/val/000342_mpii_test/{t:06d}.jpg" for t in range(3)]
    seq = sequence_from_arrays("000342_mpii_test", names, [np.ones((1, 17, 2))] * 3, [np.ones((1, 17))] * 3,
                               [[1]] * 3)
    path = tmp_path / "000342_mpii_test.json"
    item = WorkItem("000342_mpii_test", path.name, 3, None, tuple(names))
    assert not output_is_done(path, item)
    write_sequence(seq, path)
    assert output_is_done(path, item)
    other = WorkItem("000342_mpii_test", path.name, 2, None, tuple(names[:2]))
    assert not output_is_done(path, other)  # made with other images (e.g. another --max-frames)
    path.write_text(path.read_text()[:-40])  # a damaged file is redone
    assert not output_is_done(path, item)


def test_a_rank_that_stopped_early_is_named_in_the_table(tmp_path):
    rank1 = RunSummary(tmp_path, 1, 2, "h", run_id="launch-2")
    rank1.failed = "image 000003.jpg does not exist"
    rank1.write(finished=True)
    rank0 = RunSummary(tmp_path, 0, 2, "h", run_id="launch-2")
    part = rank0.read_part(1)  # a finished part: rank 0 stops waiting for it
    assert part["failed"] == rank1.failed
    assert "1      stopped early: image 000003.jpg does not exist" in timing_table([rank0.part(True), part])
