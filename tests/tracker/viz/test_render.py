"""Overlay rendering, checked pixel by pixel on synthetic frames."""
import numpy as np
from pose.keypoints import POSETRACK18
from tracker.viz.render import (GroundTruthFrame, IdSwitchMonitor, RenderOptions, draw_dashed_rectangle, flow_to_rgb,
                                render_frame, track_color)
from tracker.types import SOURCE_PROPAGATED, Boxes, Poses, TrackedFrame

H, W = 240, 320


def _person(cx, cy, scale=1.0):
    """A standing PoseTrack18 person centred near (cx, cy): (17, 2)."""
    offsets = {
        "nose": (0, -50), "head_bottom": (0, -40), "head_top": (0, -62),
        "left_shoulder": (12, -35), "right_shoulder": (-12, -35), "left_elbow": (16, -15),
        "right_elbow": (-16, -15), "left_wrist": (18, 5), "right_wrist": (-18, 5), "left_hip": (8, 5),
        "right_hip": (-8, 5), "left_knee": (9, 30), "right_knee": (-9, 30), "left_ankle": (10, 55),
        "right_ankle": (-10, 55), "left_ear": (0, 0), "right_ear": (0, 0),
    }
    pts = np.array([offsets[name] for name in POSETRACK18.joints], np.float32) * scale
    return pts + np.array([cx, cy], np.float32)


def _frame(ids=(3, 8), propagated=(), suppressed=()):
    kps = np.stack([_person(90, 120), _person(230, 120)])
    scores = np.ones((2, 17), np.float32)
    scores[:, [3, 4]] = 0.0  # ears are placeholders in PoseTrack
    poses = Poses(kps, scores, np.array([[60, 50, 120, 180], [200, 50, 260, 180]]), np.ones(2))
    prop = Boxes(np.array(propagated, np.float32).reshape(-1, 4), np.ones(len(propagated)),
                 np.full(len(propagated), SOURCE_PROPAGATED))
    supp = Boxes.detected(np.array(suppressed, np.float32).reshape(-1, 4), np.ones(len(suppressed)))
    return TrackedFrame(4, poses, list(ids), propagated_boxes=prop, suppressed_boxes=supp)


def test_joint_pixel_has_its_track_colour():
    image = np.full((H, W, 3), 30, np.uint8)
    tracked = _frame()
    out = render_frame(image, tracked, RenderOptions(joint_threshold=0.3, draw_header=False, draw_ids=False))
    for person, track_id in enumerate(tracked.track_ids):
        for joint in ("left_wrist", "right_knee", "head_top"):
            x, y = np.round(tracked.poses.keypoints[person, POSETRACK18.index(joint)]).astype(int)
            assert tuple(out[y, x]) == track_color(track_id)
    # The ears (score 0, below the threshold) are not drawn: the pixel at (0, 0) offset stays background.
    assert tuple(out[H - 5, W - 5]) == (30, 30, 30)
    assert image.max() == 30  # the input is not modified


def test_palette_is_stable_and_distinguishable():
    colors = [track_color(i) for i in range(20)]
    assert colors == [track_color(i) for i in range(20)]
    distances = [np.abs(np.subtract(a, b)).sum() for i, a in enumerate(colors) for b in colors[i + 1:]]
    assert min(distances) > 30


def test_propagated_box_is_dashed_and_detected_is_solid():
    image = np.zeros((H, W, 3), np.uint8)
    draw_dashed_rectangle(image, (20, 20, 220, 200), (255, 255, 0), 1, dash=8, gap=6)
    top_edge = image[20, 20:221, 0] > 0
    assert 0.45 < top_edge.mean() < 0.75          # dashes with gaps, roughly 8 / 14
    runs = np.diff(np.flatnonzero(np.diff(top_edge.astype(int))))
    assert runs.max() <= 9                         # no dash is longer than the dash length (+1 for rounding)
    tracked = _frame(propagated=[(10, 10, 300, 230)])
    out = render_frame(np.zeros((H, W, 3), np.uint8), tracked, RenderOptions(draw_header=False))
    row = (out[230, 10:301] == (255, 255, 0)).all(axis=1)
    assert 0.3 < row.mean() < 0.8


def test_suppressed_boxes_absent_when_switched_off_and_faint_when_on():
    box = (150, 200, 310, 235)  # in an empty part of the frame
    tracked = _frame(suppressed=[box])
    off = render_frame(np.zeros((H, W, 3), np.uint8), tracked, RenderOptions(draw_header=False))
    assert off[200, 150:311].max() == 0
    on = render_frame(np.zeros((H, W, 3), np.uint8), tracked, RenderOptions(draw_header=False, draw_suppressed=True))
    edge = on[200, 160:300]
    assert edge.min() > 0 and edge.max() < 150    # faint: half-blended grey


def test_wrong_joints_and_id_switch_are_marked_against_ground_truth():
    tracked = _frame(ids=(3, 8))
    truth = tracked.poses.keypoints.copy()
    wrist = POSETRACK18.index("left_wrist")
    truth[0, wrist] += (0, 40)  # the prediction's left wrist is far from the truth
    visible = np.ones((2, 17), bool)
    visible[:, [3, 4]] = False
    heads = np.array([[80, 55, 100, 75], [220, 55, 240, 75]], np.float32)
    gt = GroundTruthFrame(truth, visible, np.array([0, 1]), heads)
    options = RenderOptions(draw_header=False, draw_ids=False, joint_threshold=0.3)
    monitor = IdSwitchMonitor()
    out = render_frame(np.zeros((H, W, 3), np.uint8), tracked, options, gt=gt, switches=monitor)
    x, y = np.round(tracked.poses.keypoints[0, wrist]).astype(int)
    assert tuple(out[y - 3, x - 3]) == (255, 0, 0)   # a red cross over the wrong joint
    assert not (out == (255, 0, 255)).all(axis=2).any()  # no switch in the first frame
    swapped = _frame(ids=(8, 3))
    out2 = render_frame(np.zeros((H, W, 3), np.uint8), swapped, options, gt=gt, switches=monitor)
    assert (out2 == (255, 0, 255)).all(axis=2).sum() > 50


def test_side_by_side_ground_truth_doubles_the_width():
    tracked = _frame()
    gt = GroundTruthFrame(tracked.poses.keypoints, np.ones((2, 17), bool), np.array([0, 1]))
    out = render_frame(np.zeros((H, W, 3), np.uint8), tracked, RenderOptions(gt_mode="side"), gt=gt)
    assert out.shape == (H, 2 * W, 3)
    x, y = np.round(tracked.poses.keypoints[0, POSETRACK18.index("head_top")]).astype(int)
    assert tuple(out[y, W + x]) != track_color(3)  # the right half shows ground truth, not predictions


def test_flow_wheel_encodes_direction_and_panels_are_pasted():
    flow = np.zeros((40, 40, 2), np.float32)
    flow[:, :20, 0] = 5.0    # left half moves right
    flow[:, 20:, 1] = 5.0    # right half moves down
    rgb = flow_to_rgb(flow, "wheel", max_magnitude=5.0)
    assert tuple(rgb[10, 5]) != tuple(rgb[10, 30])
    assert rgb[10, 5].max() == 255
    tracked = TrackedFrame(0, Poses.empty(17), [], flow=np.zeros((H, W, 2), np.float32) + 1,
                           heatmaps=None)
    out = render_frame(np.zeros((H, W, 3), np.uint8), tracked, RenderOptions(flow_panel="wheel", draw_header=False))
    assert out[H - 5, W - 20].max() > 0 and out[H - 5, 5].max() == 0


def test_heatmap_panel_shows_the_chosen_track():
    heatmaps = np.zeros((2, 17, 32, 24), np.float32)
    heatmaps[1, 5, 16, 12] = 1.0                     # track 8 (second pose): one hot pixel
    tracked = TrackedFrame(0, _frame().poses, [3, 8], heatmaps=heatmaps)
    out = render_frame(np.zeros((H, W, 3), np.uint8), tracked,
                       RenderOptions(heatmap_track_id=8, draw_header=False, draw_ids=False))
    panel = out[H - H // 4:, : W // 2]
    red = (panel[..., 0] > 100) & (panel[..., 1] < 60) & (panel[..., 2] < 60)  # JET peak: dark red
    assert red.any()
    absent = render_frame(np.zeros((H, W, 3), np.uint8), tracked,
                          RenderOptions(heatmap_track_id=5, draw_header=False, draw_ids=False))
    assert absent[H - 10:, :10].max() == 0           # no panel for a track id not in the frame


def test_header_band_darkens_the_top_and_carries_text():
    image = np.full((H, W, 3), 200, np.uint8)
    out = render_frame(image, _frame(), RenderOptions(video_fps=10.0), run_fps=12.5)
    assert out[2, W - 2].max() < 100                 # the band is darkened
    assert out[5:18, 6:200].max() > 150               # white header text on it
    plain = render_frame(image, _frame(), RenderOptions(draw_header=False))
    assert plain[2, W - 2].min() == 200
