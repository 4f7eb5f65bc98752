"""Smoothing (tracker.smoothing): the One-Euro filter's values, frame-rate independence, missing joints and ids,
Savitzky-Golay over finished tracks, and the pipeline switch."""
from __future__ import annotations

import math

import numpy as np
import pytest

from tests.tracker.tracking_scenes import Scene
from tracker.config import TrackConfigError, load_track_config
from tracker.pipeline import track
from tracker.smoothing import RESET_SECONDS, OneEuroSmoother, online_enabled, savgol_series, savgol_tracks
from tracker.types import Poses, TrackedFrame


def _one(smoother, t, x, score=1.0, tid=0):
    """Filter one track with one joint at (x, 0)."""
    return smoother(t, np.array([tid]), np.array([[[x, 0.0]]]), np.array([[score]]))[0, 0, 0]


def _alpha(cutoff, dt):
    return 1 / (1 + 1 / (2 * math.pi * cutoff) / dt)


def test_one_euro_values_by_hand():
    f = OneEuroSmoother(min_cutoff=1.0, beta=0.05, d_cutoff=1.0)
    assert _one(f, 0.0, 0.0) == 0.0                                  # first sample passes
    speed = _alpha(1.0, 0.04) * (10.0 / 0.04)                         # smoothed derivative
    expected = _alpha(1.0 + 0.05 * speed, 0.04) * 10.0
    assert _one(f, 0.04, 10.0) == pytest.approx(expected, rel=1e-5)


def test_same_smoothing_in_seconds_at_any_frame_rate():
    """A 10 px step: the time to reach 9 px is the same at 25 and 100 frames per second (beta 0)."""
    times = {}
    for fps in (25.0, 100.0):
        f = OneEuroSmoother(min_cutoff=1.0, beta=0.0)
        _one(f, 0.0, 0.0)
        t, value = 0.0, 0.0
        while value < 9.0:
            t += 1 / fps
            value = _one(f, t, 10.0)
        times[fps] = t
    # 0.44 s and 0.38 s (the continuous filter: ln(10) / (2 pi) = 0.37 s); a filter counting frames instead of
    # seconds would take 4 times less time at 100 fps
    assert times[25.0] == pytest.approx(times[100.0], rel=0.2)
    assert times[100.0] == pytest.approx(math.log(10) / (2 * math.pi), rel=0.05)


def test_jitter_falls_and_still_signal_converges():
    rng = np.random.default_rng(0)
    noisy = 50 + rng.normal(0, 2, 200)
    f = OneEuroSmoother(min_cutoff=1.0, beta=0.01)
    out = np.array([_one(f, i / 25, x) for i, x in enumerate(noisy)])
    acc = lambda s: np.abs(np.diff(s, 2)).mean()                       # noqa: E731
    assert acc(out) < 0.2 * acc(noisy)
    assert abs(out[100:].mean() - 50) < 0.5


def test_missing_joints_and_returning_ids():
    f = OneEuroSmoother(min_cutoff=1.0, beta=0.0, joint_threshold=0.5)
    _one(f, 0.0, 0.0)
    assert _one(f, 0.04, 99.0, score=0.1) == 99.0                     # below the threshold: raw, state untouched
    value = _one(f, 0.08, 10.0)
    assert value == pytest.approx(_alpha(1.0, 0.08) * 10.0, rel=1e-5)  # dt from the joint's last update
    # two ids in one frame, one vanishing: each keeps its own state, nothing fails
    both = f(0.12, np.array([0, 7]), np.array([[[10.0, 0]], [[300.0, 0]]]), np.ones((2, 1)))
    assert both[1, 0, 0] == 300.0 and 0 < both[0, 0, 0] < 10.0
    later = 0.12 + RESET_SECONDS + 0.01                               # id 0 comes back after a long gap
    assert _one(f, later, 200.0) == 200.0                             # starts afresh, not dragged from x = 10
    assert _one(f, later, 50.0, tid=7) == 50.0 and set(f.states) == {0, 7}


def test_savgol_keeps_a_parabola_and_breaks_at_gaps():
    t = np.arange(30, dtype=float)
    series = np.stack([0.5 * t ** 2, 3 * t], axis=1)
    present = np.ones(30, bool)
    np.testing.assert_allclose(savgol_series(series, present, 9, 2), series, atol=1e-9)
    noisy = series + np.random.default_rng(0).normal(0, 1, series.shape)
    present[12] = False                                               # runs 0..11 (12 long) and 13..29 (17 long)
    present[25:] = True
    out = savgol_series(noisy, present, 15, 2)
    np.testing.assert_array_equal(out[:13], noisy[:13])               # the 12-frame run is shorter than the window
    assert np.abs(out[13:] - series[13:]).mean() < np.abs(noisy[13:] - series[13:]).mean()


def test_savgol_tracks_per_id():
    frames = []
    rng = np.random.default_rng(1)
    for i in range(20):
        ids = [3, 8] if i < 15 else [8]
        kp = np.array([[[i * 4.0 + rng.normal(), 10.0]] * 2, [[100 - i * 2.0 + rng.normal(), 50.0]] * 2])
        kp = kp[:len(ids)] if len(ids) == 2 else kp[1:]
        frames.append(TrackedFrame(i, Poses(kp, np.ones((len(ids), 2)), np.zeros((len(ids), 4)), np.ones(len(ids))),
                                   np.array(ids)))
    out = savgol_tracks(frames, 9, 2)
    x3 = np.array([f.poses.keypoints[0, 0, 0] for f in out[:15]])
    raw3 = np.array([f.poses.keypoints[0, 0, 0] for f in frames[:15]])
    assert np.abs(x3 - 4 * np.arange(15)).mean() < np.abs(raw3 - 4 * np.arange(15)).mean()
    assert out[16].raw_keypoints is frames[16].poses.keypoints
    with pytest.raises(ValueError, match="odd"):
        savgol_tracks(frames, 8, 2)


def test_pipeline_switch_and_config():
    scene = Scene([[(40 + 8 * t, 30)] for t in range(5)])
    raw = list(track(None, "default", poses=scene.given_poses(), association={"similarity": "oks"}))
    assert raw[0].raw_keypoints is None and raw[1].time_s == pytest.approx(1 / 25)
    smooth = list(track(None, "default", poses=scene.given_poses(), association={"similarity": "oks"},
                        smoothing={"online": "on"}))
    np.testing.assert_array_equal(smooth[3].raw_keypoints, raw[3].poses.keypoints)
    assert (smooth[3].poses.keypoints[:, :, 0] < raw[3].poses.keypoints[:, :, 0]).any()   # lags a moving person
    assert online_enabled("auto", True) and not online_enabled("auto", False) and not online_enabled("off", True)
    for bad in ("smoothing.online=sometimes", "smoothing.window=4", "smoothing.min_cutoff=0"):
        with pytest.raises(TrackConfigError, match="smoothing"):
            load_track_config("default", [bad])
