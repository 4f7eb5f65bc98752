"""Dataset readers (COCO, MPII, PoseTrack, synthetic) and the shared top-down dataset."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pose.config import load_config
from pose.data.coco import coco_detected_people, coco_gt_people, coco_paths, load_coco
from pose.data.dataset import DatasetError, PersonSample, TopDownDataset, read_image
from pose.data.mpii import mpii_people
from pose.data.posetrack import read_sequence_dir
from pose.data.posetrack_train import keypoint_box, posetrack_coco_gt, posetrack_people, read_posetrack_split
from pose.keypoints import COCO17, POSETRACK18
from tests.conftest import shared_path


def test_coco_ground_truth_people():
    path = shared_path("data", "coco", "test_coco.json")
    raw = json.loads(path.read_text())
    people = coco_gt_people(load_coco(path), path.parent, (192, 256))
    expected = [a for a in raw["annotations"] if a["area"] > 0 and max(a["keypoints"]) > 0]
    assert len(people) == len(expected) == 12
    ann = expected[0]
    image = next(i for i in raw["images"] if i["id"] == ann["image_id"])
    person = next(p for p in people if p.image_id == ann["image_id"])
    # Official: box clipped (w - 1 convention), grown to 3:4, / 200, x 1.25.
    x, y, w, h = ann["bbox"]
    w, h = min(image["width"] - 1, x + w - 1) - x, min(image["height"] - 1, y + h - 1) - y
    cx, cy = x + w / 2, y + h / 2
    w, h = (w, w / 0.75) if w > 0.75 * h else (h * 0.75, h)
    np.testing.assert_allclose(person.center, [cx, cy], rtol=1e-6)
    np.testing.assert_allclose(person.scale, [w / 200 * 1.25, h / 200 * 1.25], rtol=1e-6)
    kpts = np.array(ann["keypoints"], float).reshape(17, 3)
    np.testing.assert_array_equal(person.joints, kpts[:, :2])
    np.testing.assert_array_equal(person.joints_vis, np.minimum(kpts[:, 2], 1))
    assert person.image.endswith(image["file_name"]) and read_image(person.image).shape[2] == 3


def test_coco_detection_people():
    path = shared_path("data", "coco", "test_coco_det_AP_H_56.json")
    coco = load_coco(path.parent / "test_coco.json")
    dets = json.loads(path.read_text())
    people = coco_detected_people(coco, path, path.parent, (192, 256), image_thre=0.5)
    kept = [d for d in dets if d["category_id"] == 1 and d["score"] >= 0.5]
    assert len(people) == len(kept) > 0
    assert [p.score for p in people] == pytest.approx([d["score"] for d in kept])
    assert all(p.joints_vis.sum() == 17 and not p.joints.any() for p in people)


def test_mpii_people():
    path = shared_path("data", "mpii", "test_mpii.json")
    rec = json.loads(path.read_text())[0]
    person = mpii_people(path, path.parent)[0]
    s = rec["scale"]
    # Official _get_db: c[1] += 15 s, s *= 1.25, then everything 1-based -> 0-based.
    np.testing.assert_allclose(person.center, [rec["center"][0] - 1, rec["center"][1] + 15 * s - 1])
    np.testing.assert_allclose(person.scale, [1.25 * s, 1.25 * s])
    np.testing.assert_allclose(person.joints, np.array(rec["joints"]) - 1)
    assert read_image(person.image).ndim == 3


def test_posetrack_people_and_boxes():
    root = shared_path("data", "posetrack18")
    seqs = read_posetrack_split(root, "val")
    people = posetrack_people(seqs, root, (288, 384))
    labelled = [p for s in seqs for f in s.frames if f.is_labeled for p in f.people]
    assert len(people) == len(labelled) == 14
    first = labelled[0].keypoints
    present = first[np.any(first != 0, axis=1), :2]
    low, high = present.min(0), present.max(0)
    box = keypoint_box(first)
    np.testing.assert_allclose(box[2:], (high - low) * 1.15)          # 15% longer
    np.testing.assert_allclose(box[:2] + box[2:] / 2, (low + high) / 2)  # same centre
    assert people[0].joints_vis.sum() == len(present)
    assert read_image(people[0].image).shape[:2] == (1080, 1920)
    gt = posetrack_coco_gt(seqs)
    assert len(gt.anns) == 14 and gt.dataset["categories"][0]["keypoints"] == list(POSETRACK18.joints)


def test_synthetic_generator_through_coco_and_posetrack_readers(tmp_path):
    from pose.data.synthetic import generate_dataset

    generate_dataset(tmp_path, videos=1, frames=3, seed=3, size=(160, 120), write_videos=False, progress=False,
                     image_set="train")
    coco = load_coco(tmp_path / "coco" / "train.json")
    people = coco_gt_people(coco, tmp_path, (48, 64))
    assert len(people) == sum(1 for a in coco.dataset["annotations"] if max(a["keypoints"]) > 0) > 0
    assert read_image(people[0].image).shape == (120, 160, 3)
    tracks = posetrack_people(read_posetrack_split(tmp_path, "train"), tmp_path, (48, 64))
    assert len(tracks) > 0 and read_image(tracks[0].image).shape == (120, 160, 3)


def test_missing_files_name_the_path(tmp_path):
    ann, images = coco_paths(tmp_path, "val2017")
    with pytest.raises(DatasetError, match="person_keypoints_val2017.json does not exist; put"):
        load_coco(ann)
    with pytest.raises(DatasetError, match=r"annot.train\.json does not exist"):
        mpii_people(tmp_path / "annot" / "train.json", tmp_path)
    with pytest.raises(DatasetError, match=r"annotations.train does not exist"):
        read_posetrack_split(tmp_path, "train")
    with pytest.raises(DatasetError, match="cannot read image"):
        read_image(tmp_path / "none.jpg")


def _one_person_dataset(tmp_path, train: bool, **data):
    import cv2

    image = np.zeros((200, 160, 3), np.uint8)
    cv2.circle(image, (80, 100), 5, (255, 255, 255), -1)
    cv2.imwrite(str(tmp_path / "a.jpg"), image)
    joints = np.tile([[80.0, 100.0]], (17, 1))
    joints[5:] += np.arange(12)[:, None] * [3, 4]
    sample = PersonSample(image=str(tmp_path / "a.jpg"), center=np.array([80.0, 100.0]),
                          scale=np.array([0.6, 0.8]), joints=joints, joints_vis=np.ones(17))
    cfg = load_config("coco_w32_256x192", [f"data.{k}={v}" for k, v in data.items()])
    return TopDownDataset([sample] * 3, cfg.model, cfg.data, COCO17, train=train, seed=5), joints


def test_top_down_item_geometry(tmp_path):
    ds, joints = _one_person_dataset(tmp_path, train=False)
    item = ds[0]
    assert item["image"].shape == (3, 256, 192) and item["target"].shape == (17, 64, 48)
    # No augmentation: crop = 120x160 box around the centre scaled to 192x256 (x1.6); heatmap stride 4.
    crop_xy = (joints - [80 - 60, 100 - 80]) * 1.6
    expected = np.floor(crop_xy / 4 + 0.5).astype(int)
    peaks = [np.unravel_index(int(t.argmax()), t.shape)[::-1] for t in item["target"].numpy()]
    np.testing.assert_array_equal(np.array(peaks), expected)
    # The drawn dot (joint 0) lands at the crop centre: bright pixels around (96, 128).
    image = item["image"].numpy()
    assert image[:, 128, 96].min() > 2.0 and image[:, 10, 10].max() < -1.5


def test_augmentation_is_seeded_by_epoch_and_index(tmp_path):
    ds, _ = _one_person_dataset(tmp_path, train=True, prob_half_body=1.0)
    ds.set_epoch(0)
    a, b, c = ds[1], ds[1], ds[2]
    assert all(np.array_equal(a[k], b[k]) for k in ("image", "target", "target_weight"))
    assert not np.array_equal(a["target"], c["target"])       # another index, other draws
    ds.set_epoch(1)
    assert not np.array_equal(a["target"], ds[1]["target"])   # another epoch, other draws


def test_posetrack_2017_and_2018_files_give_the_same_people():
    ref = shared_path("reference", "poseval")
    people17 = posetrack_people(read_sequence_dir(ref / "realistic_2017" / "gt"), "/data", (288, 384))
    people18 = posetrack_people(read_sequence_dir(ref / "realistic" / "gt"), "/data", (288, 384))
    assert len(people17) == len(people18) > 100
    for a, b in zip(people17, people18):
        assert a.image == b.image and a.image_id == b.image_id
        np.testing.assert_allclose(a.joints, b.joints)
        np.testing.assert_allclose(a.scale, b.scale)
    ears = [POSETRACK18.index("left_ear"), POSETRACK18.index("right_ear")]
    assert not any(p.joints_vis[ears].any() for p in people17)
