"""Hard synthetic scenes for identity tracking: people who leave the view and come back after 1-5 s, people hidden
behind scene objects for 1-3 s, and people dressed alike.

A hard scene is a ``synthetic.Scene`` with a still camera, one or two wide foreground posts and people who walk
scripted paths (``ScriptedPerson``): a person walks out through an edge, waits outside for ``exit_seconds``, then
comes back through the same edge (turned round) or the other one (having gone round the back); or walks to a post,
waits hidden behind it for ``occlusion_seconds`` and walks on. In a video with ``similar_clothing`` everyone wears
shirt and trouser colours within a few RGB levels of each other (textures still differ). Frames and ground truth
come from the ordinary renderer, so the files are the same formats as ``pose.data.synthetic``'s.

    python -m pose.data.synthetic.hard --out DIR --videos 4 --frames 300 --seed 3

writes the ``pose.data.synthetic`` layout (videos, images, PoseTrack 2018 annotations, COCO file, noisy detections)
at 25 frames per second. Python: ``make_hard_scene(rng, frames, HardConfig())``, ``generate_hard_dataset(...)``.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace

import numpy as np

from pose.data import synthetic as syn
from pose.data.synthetic import people as sp
from pose.data.synthetic.scene import check_frames


@dataclass(frozen=True)
class HardConfig:
    """Options of a hard scene; ranges are (low, high) drawn uniformly."""

    size: tuple[int, int] = (640, 480)
    fps: float = 25.0
    people: tuple[int, int] = (3, 4)                    # people per video (inclusive)
    exit_seconds: tuple[float, float] = (1.0, 5.0)      # time spent outside the view before coming back
    occlusion_seconds: tuple[float, float] = (1.0, 3.0)  # time spent hidden behind a post
    similar_clothing: float = 0.5                       # chance that everyone in a video dresses alike
    person_height: tuple[float, float] = (0.35, 0.55)   # standing height at the image bottom, fraction of height
    posts: tuple[int, int] = (1, 2)                     # foreground posts per video


@dataclass(frozen=True)
class ScriptedPerson(syn.Person):
    """A person whose root follows keyframes: ``times`` (frames, increasing) and world ``xs``; they face the way
    they walk (``|yaw|`` to the right, ``-|yaw|`` to the left) and keep facing it while standing."""

    times: tuple[float, ...] = ()
    xs: tuple[float, ...] = ()

    def root(self, t: int) -> tuple[float, float]:
        return float(np.interp(t, self.times, self.xs)), self.ground_y

    def yaw_at(self, t: int) -> float:
        steps = np.diff(self.xs)
        last = int(np.searchsorted(self.times, t, side="right")) - 1
        moving = np.flatnonzero(steps[:max(min(last + 1, len(steps)), 1)] != 0)
        direction = np.sign(steps[moving[-1]]) if len(moving) else 1.0
        return abs(self.yaw) * float(direction)


def _script(rng: np.random.Generator, frames: int, fps: float, width: int, person_h: float, speed: float,
            posts: list[float], config: HardConfig) -> tuple[list[float], list[float]]:
    """Keyframes (times, xs) of one person: walks, exits and returns, pauses behind posts, until ``frames``."""
    outside = 0.35 * person_h         # far enough past the edge that no part of the body shows
    x = float(rng.uniform(0.15, 0.85) * width)
    direction = 1.0 if rng.random() < 0.5 else -1.0
    times, xs = [0.0], [x]

    def walk_to(target: float) -> None:
        times.append(times[-1] + abs(target - xs[-1]) / speed)
        xs.append(target)

    def stay(seconds: float) -> None:
        times.append(float(np.ceil(times[-1] + seconds * fps)))
        xs.append(xs[-1])

    while times[-1] < frames:
        ahead = [p for p in posts if (p - xs[-1]) * direction > 0.3 * person_h]
        if ahead and rng.random() < 0.5:          # hide behind the nearest post ahead, then walk on
            walk_to(min(ahead, key=lambda p: abs(p - xs[-1])))
            stay(rng.uniform(*config.occlusion_seconds))
            continue
        walk_to(width + outside if direction > 0 else -outside)
        stay(max(rng.uniform(*config.exit_seconds) - 2 * outside / speed / fps, 0.0))   # out of view that long
        if rng.random() < 0.5:                     # back through the same edge
            direction = -direction
        else:                                      # round the back: in through the other edge, at a whole frame
            times.append(times[-1] + 0.5)
            xs.append(-outside if direction > 0 else width + outside)
        walk_to(xs[-1] + direction * (outside + rng.uniform(0.25, 0.6) * width))
        if rng.random() < 0.3:
            direction = -direction
    return times, xs


def _dress_like(appearance: sp.Appearance, base: sp.Appearance, rng: np.random.Generator) -> sp.Appearance:
    """``appearance`` with the clothing colours of ``base`` (shirt, sleeves, trousers) within 12 RGB levels."""
    colors = appearance.colors.copy()
    clothing = [sp.TORSO, sp.LEFT_ARM, sp.RIGHT_ARM, sp.LEFT_LEG, sp.RIGHT_LEG]
    colors[clothing] = np.clip(base.colors[clothing] + rng.uniform(-12, 12, 3), 0, 255)
    lut = appearance.color_lut.copy()
    lut[:sp.NUM_PARTS, 0] = np.round(np.clip(colors[:, ::-1], 0, 255))
    return replace(appearance, colors=colors.astype(np.float32), color_lut=lut)


def make_hard_scene(rng: np.random.Generator, frames: int, config: HardConfig = HardConfig()) -> syn.Scene:
    """A still-camera scene of ``frames`` frames with exits and returns, posts to hide behind, alike clothing."""
    width, height = config.size
    video = syn.VideoConfig(size=(width, height), camera_pan=False, crowd_probability=0.0,
                            occluder_probability=0.0)
    horizon = rng.uniform(0.25, 0.4) * height
    background = np.ascontiguousarray(syn.make_background(rng, width, height, horizon)[:, :, ::-1])
    ref_height = rng.uniform(*config.person_height) * height
    n = int(rng.integers(config.people[0], config.people[1] + 1))
    grounds = rng.uniform(horizon + 0.55 * (height - horizon), 0.97 * height, n)
    heights = ref_height * (grounds - horizon) / (height - horizon)
    post_w = int(0.75 * heights.max())             # wide enough to hide a walker in mid-stride
    post_xs = [float(x) for x in rng.uniform(0.2, 0.8, int(rng.integers(config.posts[0], config.posts[1] + 1)))
               * width]
    occluders = tuple(((int(x - post_w / 2), -10, int(x + post_w / 2), height + 1),
                       tuple(float(c) for c in rng.uniform(30, 220, 3))) for x in post_xs)
    alike = rng.random() < config.similar_clothing
    people, base = [], None
    for k in range(n):
        appearance = sp.random_appearance(rng)
        if alike:
            base = base or appearance
            appearance = _dress_like(appearance, base, rng) if k else appearance
        speed = heights[k] * rng.uniform(0.02, 0.03)      # px per frame: 0.5-0.75 heights per second at 25 fps
        motion = sp.Motion("walk", frequency=speed / (0.8 * heights[k]), phase=float(rng.uniform()),
                           amplitude=float(rng.uniform(0.8, 1.2)))
        times, xs = _script(rng, frames, config.fps, width, heights[k], speed, post_xs, config)
        people.append(ScriptedPerson(track_id=k, motion=motion, appearance=appearance,
                                     yaw=float(np.deg2rad(rng.uniform(70, 110))), height=float(heights[k]),
                                     ground_y=float(grounds[k]), x0=xs[0], velocity=0.0, times=tuple(times),
                                     xs=tuple(xs)))
    return syn.Scene(config=video, background=background, camera=np.zeros((frames, 2), np.int64),
                     people=tuple(people), ignore_polygons=(), occluders=occluders)


def generate_hard_dataset(out_dir, videos: int, frames: int, seed: int, config: HardConfig = HardConfig(),
                          **options) -> dict:
    """``synthetic.generate_dataset`` with hard scenes (``options`` are its keyword arguments)."""
    check_frames(frames)
    scenes = [make_hard_scene(syn.video_rng(seed, i), frames, config) for i in range(videos)]
    return syn.generate_dataset(out_dir, videos, frames, seed, size=config.size, fps=config.fps, scenes=scenes,
                                **options)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pose.data.synthetic.hard", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder (created if needed)")
    p.add_argument("--videos", type=int, default=2)
    p.add_argument("--frames", type=int, default=300, help="frames per video (25 per second)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--similar-clothing", type=float, default=HardConfig.similar_clothing,
                   help="chance that a video's people dress alike")
    p.add_argument("--no-videos", action="store_true", help="do not write mp4 files")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    try:
        if not 0 <= args.similar_clothing <= 1:
            raise syn.SyntheticDataError(f"--similar-clothing is a probability from 0 to 1, got "
                                         f"{args.similar_clothing}")
        summary = generate_hard_dataset(args.out, args.videos, args.frames, args.seed,
                                        HardConfig(similar_clothing=args.similar_clothing),
                                        write_videos=not args.no_videos, progress=not args.quiet)
    except syn.SyntheticDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {summary['videos']} hard videos, {summary['frames']} frames, {summary['people']} tracks to "
          f"{args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
