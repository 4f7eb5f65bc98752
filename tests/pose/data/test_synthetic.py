"""Tests of the synthetic video generator (pose.data.synthetic): determinism, file layout, exact ground truth."""
from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from pose.data import synthetic as syn
from pose.data.synthetic import people as sp
from pose.keypoints import COCO17, POSETRACK18

# poseval's posetrack18_fname2id accepts only this shape of image file name.
POSEVAL_FILE_NAME = re.compile(r"^(.*/)?\d+_(mpii|bonn|mpiinew)(_[^/]*)?/\d+\.jpg$")


def _scene(people, size=(320, 240), frames=10, gray=128) -> syn.Scene:
    width, height = size
    background = np.full((height, width, 3), gray, np.uint8)
    return syn.Scene(config=syn.VideoConfig(size=size), background=background,
                     camera=np.zeros((frames, 2), np.int64), people=tuple(people), ignore_polygons=())


def _person(track_id, x0, ground_y, height, velocity=0.0, kind="stand", yaw=0.0, seed=0) -> syn.Person:
    # Random colours and texture, average body shape: the geometry of these tests depends on nothing random.
    appearance = dataclasses.replace(sp.random_appearance(np.random.default_rng(seed)), build=1.0,
                                     proportions=(1.0, 1.0, 1.0))
    return syn.Person(track_id=track_id, motion=sp.Motion(kind, 0.03, 0.0), appearance=appearance, yaw=yaw,
                      height=height, ground_y=ground_y, x0=x0, velocity=velocity)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("syn") / "data"
    summary = syn.generate_dataset(out, videos=2, frames=12, seed=5, size=(320, 240), label_stride=1,
                                   progress=False)
    return out, summary


def test_same_seed_gives_identical_ground_truth_and_other_seed_differs(tmp_path, dataset):
    out, _ = dataset
    again = tmp_path / "again"
    syn.generate_dataset(again, videos=2, frames=12, seed=5, size=(320, 240), progress=False)
    other = tmp_path / "other"
    syn.generate_dataset(other, videos=2, frames=12, seed=6, size=(320, 240), progress=False)
    for rel in ("annotations/000000_mpii_test.json", "annotations/000001_mpii_test.json",
                "coco/person_keypoints.json"):
        assert (out / rel).read_bytes() == (again / rel).read_bytes(), rel
        assert (out / rel).read_bytes() != (other / rel).read_bytes(), rel
    # Frames in memory are identical too; the two videos of one seed differ from each other.
    a = [f for f, _ in syn.generate_video(5, 3, size=(160, 120))]
    b = [f for f, _ in syn.generate_video(5, 3, size=(160, 120))]
    c = [f for f, _ in syn.generate_video(5, 3, size=(160, 120), video_index=1)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_layout_file_names_and_formats(dataset):
    out, summary = dataset
    assert summary["frames"] == 24 and summary["labeled_frames"] == 24
    for seq in ("000000_mpii_test", "000001_mpii_test"):
        assert (out / "videos" / f"{seq}.mp4").is_file()
        assert sorted(p.name for p in (out / "images" / seq).iterdir()) == [f"{t:06d}.jpg" for t in range(12)]
        gt = json.loads((out / "annotations" / f"{seq}.json").read_text())
        assert gt["categories"][0]["keypoints"] == list(POSETRACK18.joints)
        vid = int(seq[:6])
        for t, img in enumerate(gt["images"]):
            assert img["file_name"] == f"images/{seq}/{t:06d}.jpg"
            assert POSEVAL_FILE_NAME.match(img["file_name"])
            assert img["id"] == img["frame_id"] == 10_000_000_000 + vid * 10000 + t
            assert img["vid_id"] == seq[:6] and img["nframes"] == 12 and img["is_labeled"] is True
            assert len(img["ignore_regions_x"]) == len(img["ignore_regions_y"])
        ids = {img["id"] for img in gt["images"]}
        for ann in gt["annotations"]:
            assert ann["image_id"] in ids and 0 <= ann["track_id"] < 10000
            kp = np.array(ann["keypoints"]).reshape(17, 3)
            assert (kp[[3, 4]] == 0).all()                      # ears: PoseTrack placeholders
            assert set(kp[:, 2]) <= {0, 1}
            assert ann["num_keypoints"] == int((kp[:, 2] > 0).sum()) > 0
            x, y, w, h = ann["bbox_head"]
            assert w > 0 and h > 0
    coco = json.loads((out / "coco" / "person_keypoints.json").read_text())
    assert coco["categories"][0]["keypoints"] == list(COCO17.joints)
    assert len(coco["images"]) == 24
    assert all((out / img["file_name"]).is_file() for img in coco["images"])
    assert len({a["id"] for a in coco["annotations"]}) == len(coco["annotations"]) > 0
    for ann in coco["annotations"]:
        kp = np.array(ann["keypoints"]).reshape(17, 3)
        assert ann["num_keypoints"] == int((kp[:, 2] > 0).sum())
        assert ann["iscrowd"] == 0 and ann["area"] > 0 and ann["bbox"][2] > 0


def test_posetrack_reader_reads_the_ground_truth(dataset):
    posetrack = pytest.importorskip("pose.data.posetrack")
    out, _ = dataset
    gt = json.loads((out / "annotations" / "000001_mpii_test.json").read_text())
    seq = posetrack.read_sequence(out / "annotations" / "000001_mpii_test.json", role="gt")
    assert seq.name == "000001_mpii_test" and len(seq.frames) == 12
    n_people = sum(len(f.people) for f in seq.frames)
    assert n_people == len(gt["annotations"])
    first = gt["annotations"][0]
    person = next(p for f in seq.frames for p in f.people if f.image_id == first["image_id"]
                  and p.track_id == first["track_id"])
    np.testing.assert_allclose(person.keypoints.ravel(), first["keypoints"])


def test_coco_file_evaluates_to_ap_1_against_itself(dataset):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    out, _ = dataset
    gt = COCO(str(out / "coco" / "person_keypoints.json"))
    results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
               for a in gt.dataset["annotations"] if a["num_keypoints"] > 0]
    ev = COCOeval(gt, gt.loadRes(results), iouType="keypoints")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


def test_mp4_decodes_with_every_frame(dataset):
    out, _ = dataset
    path = out / "videos" / "000000_mpii_test.mp4"
    first_jpeg = cv2.cvtColor(cv2.imread(str(out / "images" / "000000_mpii_test" / "000000.jpg")), cv2.COLOR_BGR2RGB)
    try:
        import decord
        reader = decord.VideoReader(str(path))
        count, first = len(reader), reader[0].asnumpy()
    except ImportError:
        cap = cv2.VideoCapture(str(path))
        frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        count, first = len(frames), frames[0]
    assert count == 12
    assert first.shape == (240, 320, 3)
    assert np.abs(first.astype(np.int16) - first_jpeg).mean() < 8   # the same picture, two lossy codecs
    # The in-memory API gives the same picture in RGB order.
    in_memory, _ = next(syn.generate_video(5, 12, size=(320, 240)))
    direct = np.abs(in_memory.astype(np.int16) - first_jpeg).mean()
    swapped = np.abs(in_memory.astype(np.int16) - first_jpeg[:, :, ::-1]).mean()
    assert direct < 6 and swapped > 2 * direct


def _explained_by_person_colors(pixel: np.ndarray, colors: np.ndarray, lo=0.5, hi=1.6, tol=4.0) -> bool:
    """Whether ``pixel`` is one of the person's part colours times a texture intensity in [lo, hi] (saturated
    at 255 as the drawing is)."""
    scales = np.arange(lo, hi, 0.005)[:, None, None]
    candidates = np.clip(colors[None, 1:] * scales, 0, 255)          # (S, parts, 3)
    return bool((np.abs(candidates - pixel).max(axis=2) <= tol).any())


def test_visible_keypoints_land_on_the_persons_drawn_body():
    scene = syn.make_scene(syn.video_rng(11, 0), 20, syn.VideoConfig(size=(320, 240), num_people=4))
    by_id = {p.track_id: p for p in scene.people}
    checked = 0
    for t in (0, 7, 14, 19):
        image, truth = syn.render_frame(scene, t)
        cx, cy = scene.camera[t]
        background = scene.background[cy:cy + 240, cx:cx + 320, ::-1]      # stored BGR
        for n, track in enumerate(truth.track_ids):
            colors = by_id[int(track)].appearance.colors
            for k in range(5, 17):             # body joints (face points are drawn features)
                if truth.visibility[n, k] != 2:
                    continue
                x, y = np.floor(truth.keypoints[n, k]).astype(int)
                pixel = image[y, x].astype(np.float64)
                assert _explained_by_person_colors(pixel, colors), (t, int(track), COCO17.joints[k], pixel)
                assert not np.array_equal(image[y, x], background[y, x])
                checked += 1
    assert checked > 40


def test_left_limbs_lighter_than_right():
    appearance = sp.random_appearance(np.random.default_rng(3))
    c = appearance.colors
    assert (c[sp.LEFT_ARM] > c[sp.RIGHT_ARM]).all() and (c[sp.LEFT_LEG] > c[sp.RIGHT_LEG]).all()


def test_nearer_person_occludes_the_farther_one():
    far = _person(0, x0=160, ground_y=190, height=150, seed=1)
    near = _person(1, x0=160, ground_y=235, height=190, seed=2)
    _, truth = syn.render_frame(_scene([far, near]), 0)
    assert list(truth.track_ids) == [0, 1]
    hips = [COCO17.index("left_hip"), COCO17.index("right_hip")]
    shoulders = [COCO17.index("left_shoulder"), COCO17.index("right_shoulder")]
    assert (truth.visibility[0, hips] == 1).all()                    # behind the near person's torso
    assert (truth.visibility[0, shoulders] == 2).all()               # they stick out on both sides
    assert truth.visibility[0, COCO17.index("nose")] == 1            # behind the near head
    assert (truth.visibility[1, 5:] == 2).all()
    # Apart, the same far person is fully visible.
    moved = _person(1, x0=290, ground_y=235, height=190, seed=2)
    _, apart = syn.render_frame(_scene([far, moved]), 0)
    assert (apart.visibility[0, hips + shoulders] == 2).all()
    assert (apart.visibility[0, 5:] == 2).all()
    # PoseTrack export: hidden joints dropped by default, kept as x, y, 1 on request.
    dropped = syn.posetrack_people(0, truth, occluded="drop")[0].keypoints
    kept = syn.posetrack_people(0, truth, occluded="keep")[0].keypoints
    lh = POSETRACK18.index("left_hip")
    assert dropped[lh].tolist() == [0, 0, 0]
    assert kept[lh, 2] == 1 and kept[lh, 0] == pytest.approx(float(truth.keypoints[0, lh, 0]), abs=0.01)
    # The hidden person's silhouette area counts only its visible pixels.
    assert truth.areas[0] < apart.areas[0]


def test_foreground_post_hides_the_joints_behind_it():
    person = _person(0, x0=160, ground_y=230, height=200, seed=3)
    post = ((154, 0, 167, 240), (10.0, 200.0, 30.0))
    scene = _scene([person])
    _, open_view = syn.render_frame(scene, 0)
    image, hidden = syn.render_frame(syn.Scene(**{**scene.__dict__, "occluders": (post,)}), 0)
    nose, ls = COCO17.index("nose"), COCO17.index("left_shoulder")
    assert open_view.visibility[0, nose] == 2 and hidden.visibility[0, nose] == 1
    assert hidden.visibility[0, ls] == 2
    np.testing.assert_array_equal(image[100, 160], [10, 200, 30])      # RGB
    assert hidden.areas[0] < open_view.areas[0]


def test_fully_hidden_person_is_not_in_the_ground_truth():
    small = _person(0, x0=160, ground_y=112, height=50, seed=1)     # behind the big person's chest
    big = _person(1, x0=160, ground_y=235, height=220, seed=2)
    _, truth = syn.render_frame(_scene([small, big]), 0)
    assert list(truth.track_ids) == [1]


def test_face_points_turned_away_are_hidden():
    back = _person(0, x0=160, ground_y=230, height=200, yaw=np.pi, seed=4)
    front = _person(0, x0=160, ground_y=230, height=200, yaw=0.0, seed=4)
    _, t_back = syn.render_frame(_scene([back]), 0)
    _, t_front = syn.render_frame(_scene([front]), 0)
    face = [COCO17.index(n) for n in ("nose", "left_eye", "right_eye")]
    assert (t_back.visibility[0, face] == 1).all() and (t_front.visibility[0, face] == 2).all()
    # Facing the camera, the person's left shoulder appears on the image right.
    ls, rs = COCO17.index("left_shoulder"), COCO17.index("right_shoulder")
    assert t_front.keypoints[0, ls, 0] > t_front.keypoints[0, rs, 0]
    assert t_back.keypoints[0, ls, 0] < t_back.keypoints[0, rs, 0]


def test_walker_enters_and_leaves_the_view():
    walker = _person(0, x0=-60, ground_y=200, height=120, velocity=12.0, kind="walk", yaw=np.pi / 2)
    stander = _person(1, x0=100, ground_y=180, height=100)
    scene = _scene([walker, stander], frames=40)
    present = [0 in syn.render_frame(scene, t)[1].track_ids for t in range(40)]
    assert not present[0] and present[10] and not present[39]
    first, last = present.index(True), len(present) - 1 - present[::-1].index(True)
    assert all(present[first:last + 1])                   # one continuous appearance
    # The walker's boxes move right at its speed (12 px/frame) while fully in view.
    boxes = {}
    for t in (12, 16):
        truth = syn.render_frame(scene, t)[1]
        boxes[t] = truth.boxes[list(truth.track_ids).index(0)]
    assert (boxes[16][0] + boxes[16][2] - boxes[12][0] - boxes[12][2]) / 2 == pytest.approx(48, abs=8)


def test_generated_videos_have_entering_and_leaving_tracks():
    entered = left = 0
    for seed in range(4):
        ids = [set(truth.track_ids.tolist()) for _, truth in syn.generate_video(seed, 60, size=(160, 120))]
        entered += len(set().union(*ids[1:]) - ids[0])
        left += len(ids[0] - ids[-1])
    assert entered > 0 and left > 0


def test_truth_arrays_shapes_and_head_boxes():
    frame, truth = next(syn.generate_video(2, 1, size=(200, 150), num_people=5))
    n = len(truth.track_ids)
    assert frame.shape == (150, 200, 3) and frame.dtype == np.uint8
    assert truth.keypoints.shape == (n, 17, 2) and truth.visibility.shape == (n, 17)
    assert truth.boxes.shape == (n, 4) and truth.head_boxes.shape == (n, 4)
    assert (truth.boxes[:, :2] >= 0).all() and (truth.boxes[:, 2] <= 200).all() and (truth.boxes[:, 3] <= 150).all()
    head = truth.posetrack_keypoints[:, [1, 2]]            # head_bottom, head_top inside the head box
    hb = truth.head_boxes
    assert (head[..., 0] >= hb[:, None, 0] - 1e-3).all() and (head[..., 0] <= hb[:, None, 2] + 1e-3).all()
    assert (head[..., 1] >= hb[:, None, 1] - 1e-3).all() and (head[..., 1] <= hb[:, None, 3] + 1e-3).all()
    assert (truth.posetrack_visibility[:, [3, 4]] == 0).all()
    # Body joints are shared between the two layouts.
    np.testing.assert_array_equal(truth.posetrack_keypoints[:, 5:], truth.keypoints[:, 5:])


def test_label_stride_and_crowd_ignore_regions(tmp_path):
    config = syn.VideoConfig(crowd_probability=1.0)
    syn.generate_dataset(tmp_path, videos=1, frames=7, seed=3, size=(200, 150), label_stride=3,
                         write_videos=False, config=config, progress=False)
    gt = json.loads((tmp_path / "annotations" / "000000_mpii_test.json").read_text())
    assert [img["is_labeled"] for img in gt["images"]] == [t % 3 == 0 for t in range(7)]
    labeled_ids = {img["id"] for img in gt["images"] if img["is_labeled"]}
    assert {a["image_id"] for a in gt["annotations"]} <= labeled_ids
    assert any(img["ignore_regions_x"] for img in gt["images"] if img["is_labeled"])
    coco = json.loads((tmp_path / "coco" / "person_keypoints.json").read_text())
    assert [img["frame_id"] for img in coco["images"]] == [0, 3, 6]
    assert not (tmp_path / "videos").exists()


def test_cli_writes_a_dataset_and_reports_throughput(tmp_path, capsys):
    rc = syn.main(["--out", str(tmp_path), "--videos", "1", "--frames", "40", "--seed", "0", "--benchmark",
                   "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0
    fps = float(re.search(r"([\d.]+) frames/s", out).group(1))
    with capsys.disabled():
        print(f"\nsynthetic generator throughput at 640x480 with JPEG + mp4 (40 frames): {fps:.1f} frames/s")
    assert len(list((tmp_path / "images" / "000000_mpii_test").glob("*.jpg"))) == 40


@pytest.mark.parametrize("argv, fragment", [
    (["--frames", "0"], "frames must be an integer"),
    (["--videos", "0"], "videos must be an integer"),
    (["--size", "abc"], "WIDTHxHEIGHT"),
    (["--size", "10x10"], "size must be"),
    (["--frames", "ten"], "invalid int value"),
    (["--crowd-prob", "2"], "crowd_probability"),
    (["--occluder-prob", "-1"], "occluder_probability"),
    (["--label-stride", "0"], "label_stride must be"),
])
def test_cli_bad_numbers_exit_2_with_one_sentence(tmp_path, capsys, argv, fragment):
    with pytest.raises(SystemExit) as exc:
        rc = syn.main(["--out", str(tmp_path / "o"), "--quiet"] + argv)
        raise SystemExit(rc)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and fragment in err and "\n" not in err


def test_cli_unwritable_out_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = subprocess.run([sys.executable, "-m", "pose.data.synthetic", "--out", str(blocker / "sub"),
                           "--frames", "2", "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: cannot write to the output folder") and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stdout == ""
