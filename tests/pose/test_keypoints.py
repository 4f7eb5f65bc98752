"""Keypoint layouts: flip pairs mirror left/right, mappings follow names, sigmas match the official constants."""
import json

import numpy as np
import pytest

from pose import keypoints as kp
from tests.conftest import shared_path


def test_layout_sizes_and_unique_names():
    assert [kp.COCO17.num_joints, kp.POSETRACK18.num_joints, kp.POSETRACK17.num_joints, kp.MPII16.num_joints] == [
        17, 17, 15, 16]
    for layout in kp.LAYOUTS.values():
        assert len(set(layout.joints)) == layout.num_joints
        assert len(layout.sigmas) == layout.num_joints


def test_flip_pairs_equal_official_hrnet_pairs():
    # HRNet's official flip pairs (NOTES.md sec. 2).
    assert kp.COCO17.flip_pairs == ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
    assert kp.MPII16.flip_pairs == ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))


@pytest.mark.parametrize("layout", list(kp.LAYOUTS.values()), ids=lambda l: l.name)
def test_flip_permutation_swaps_left_and_right_names(layout):
    perm = layout.flip_permutation()
    assert sorted(perm) == list(range(layout.num_joints))
    np.testing.assert_array_equal(perm[perm], np.arange(layout.num_joints))  # an involution
    for k, name in enumerate(layout.joints):
        mirrored = layout.joints[perm[k]]
        if name.startswith("left_"):
            assert mirrored == "right_" + name[5:]
        elif not name.startswith("right_"):
            assert mirrored == name


def test_posetrack17_order_is_poseval_order():
    # poseval's internal ids 0..14 (reference NOTES): right_ankle ... head_top.
    assert kp.POSETRACK17.joints[0] == "right_ankle"
    assert kp.POSETRACK17.joints[12:] == ("head_bottom", "nose", "head_top")


def test_posetrack18_names_equal_real_ground_truth_categories():
    path = shared_path("data", "posetrack18", "annotations", "val", "003418_mpii_test.json")
    categories = json.loads(path.read_text())["categories"]
    assert tuple(categories[0]["keypoints"]) == kp.POSETRACK18.joints


def test_coco_sigmas_equal_hrnet_reference():
    notes = shared_path("reference", "hrnet", "NOTES.md").read_text()
    start = notes.index("np.array([.26")
    values = notes[start + len("np.array(["): notes.index("])", start)]
    official = np.array([float(v) for v in values.split(",")]) / 10.0
    np.testing.assert_allclose(kp.COCO17.sigmas, official)


def test_mapping_posetrack18_to_17_and_back_is_lossless_for_the_15_joints():
    rng = np.random.default_rng(0)
    pts18 = rng.uniform(0, 100, (3, 17, 2)).astype(np.float32)
    pts17, sc17 = kp.convert_keypoints(pts18, None, "posetrack18", "posetrack17")
    back, sc_back = kp.convert_keypoints(pts17, sc17, "posetrack17", "posetrack18")
    for name in kp.POSETRACK17.joints:
        j = kp.POSETRACK18.index(name)
        np.testing.assert_array_equal(back[:, j], pts18[:, j])
        assert (sc_back[:, j] == 1).all()
    ears = [kp.POSETRACK18.index("left_ear"), kp.POSETRACK18.index("right_ear")]
    assert (back[:, ears] == 0).all() and (sc_back[:, ears] == 0).all()


def test_mpii_neck_maps_to_posetrack_head_bottom_and_coco_eyes_do_not():
    mapping = kp.joint_mapping("mpii16", "posetrack18")
    assert mapping[kp.POSETRACK18.index("head_bottom")] == kp.MPII16.index("upper_neck")
    assert mapping[kp.POSETRACK18.index("head_top")] == kp.MPII16.index("head_top")
    coco_to_pt = kp.joint_mapping("coco17", "posetrack18")
    assert coco_to_pt[kp.POSETRACK18.index("head_bottom")] == -1
    assert coco_to_pt[kp.POSETRACK18.index("left_wrist")] == kp.COCO17.index("left_wrist")


def test_unknown_layout_names_the_choices():
    with pytest.raises(ValueError, match="coco17"):
        kp.get_layout("coco18")
