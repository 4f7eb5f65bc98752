"""Tracking-only mode on COCO keypoint results (tracker.poses_coco): the image-id rule, ids assigned, clear errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pose.data.posetrack import read_sequence
from tests.tracker.tracking_scenes import Scene
from tracker.poses_coco import frame_of_image_id
from tracker.poses_input import PosesFileError, read_untracked_poses
from tracker.run import main

# person 0 walks right and is missing in frame 3; person 1 walks left lower down; frame 6 has nobody
SCENE = Scene([[None if t == 3 else (40 + 8 * t, 30), (250 - 8 * t, 120)] if t < 6 else [None, None]
               for t in range(7)])


def _results(image_id) -> list[dict]:
    """COCO results of SCENE (its 17 joints read as COCO-17), ``image_id(t)`` naming frame t."""
    out = []
    for t in range(SCENE.num_frames):
        kp, sc, _ = SCENE.poses(t)
        for keypoints, scores in zip(kp, sc):
            flat = np.concatenate([keypoints, scores[:, None]], axis=1)
            flat[scores == 0] = 0
            out.append({"image_id": image_id(t), "category_id": 1, "keypoints": flat.ravel().round(2).tolist(),
                        "score": 0.95})
    return out


@pytest.mark.parametrize("image_id", [lambda t: t, lambda t: 10_000_120_000 + t, lambda t: f"{t:06d}.jpg",
                                      lambda t: f"clip/frame_{t}"], ids=["index", "posetrack", "file", "stem"])
def test_coco_results_tracked(tmp_path, image_id):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_results(image_id)))
    out = tmp_path / "out"
    assert main(["--poses", str(path), "--out", str(out), "--set", "association.similarity=oks", "--no-progress",
                 "--quiet", "--csv", str(out / "results.csv")]) == 0
    seq = read_sequence(out / "results.json", role="pred", check_file_names=False)
    ids = [[p.track_id for p in f.people] for f in seq.frames]
    assert ids == [[0, 1]] * 3 + [[1]] + [[0, 1]] * 2              # 6 frames: the last with people is frame 5
    person = seq.frames[2].people[0]
    np.testing.assert_allclose(person.keypoints[[0, 5, 16], :2], SCENE.poses(2)[0][0][[0, 5, 16]])
    assert person.keypoints[1, 2] > 0                               # head_bottom made from the COCO joints


def test_results_padded_to_the_video_length(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(_results(lambda t: t)))
    sequence = read_untracked_poses(path, num_frames=10)
    assert len(sequence.keypoints) == 10 and sequence.layout == "coco17"
    assert [len(k) for k in sequence.keypoints] == [2, 2, 2, 1, 2, 2, 0, 0, 0, 0]
    assert sequence.person_scores[0].tolist() == pytest.approx([0.95, 0.95])


def test_image_id_rule():
    path = Path("r.json")
    assert [frame_of_image_id(v, PosesFileError, path) for v in (0, 17, 10_000_010_042, "000042.jpg", "a/f_7.png",
                                                                  7.0)] == [0, 17, 42, 42, 7, 7]
    for bad in ("frame", -1, True, None, [1]):
        with pytest.raises(PosesFileError, match="image_id"):
            frame_of_image_id(bad, PosesFileError, path)


@pytest.mark.parametrize("content, words", [
    ({"annotations": []}, "PoseTrack 2018 file or a COCO keypoint results list"),
    ([{"image_id": 0}], "needs 'image_id' and 'keypoints'"),
    ([{"image_id": 0, "keypoints": [1, 2, 3]}], "51 keypoint numbers"),
    ([{"image_id": 0, "keypoints": [0] * 51}, {"image_id": "1.jpg", "keypoints": [0] * 51}], "mix numbers"),
    ([{"image_id": "left", "keypoints": [0] * 51}], "neither a frame number"),
    ([{"image_id": 0, "keypoints": [0] * 51, "category_id": 3}], "no person keypoints"),
])
def test_bad_files_one_sentence(tmp_path, capsys, content, words):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    code = main(["--poses", str(path), "--out", str(tmp_path / "out"), "--set", "association.similarity=oks",
                 "--no-progress", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and words in err[0], err
    assert not list((tmp_path / "out").glob("*.json"))
