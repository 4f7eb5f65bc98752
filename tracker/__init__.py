"""posetrack's tracker: the streaming video -> tracked poses pipeline, its outputs and the PoseTrack evaluator.

``track(source, config=None, **overrides)`` yields one ``TrackedFrame`` per frame (see ``tracker.pipeline``);
importing it loads the detectors and flow code only when first called.
"""
from tracker.types import Boxes, Frame, Poses, TrackedFrame

__all__ = ["Boxes", "Frame", "Poses", "TrackedFrame", "track"]


def track(source, config=None, **overrides):
    """The tracking pipeline as a generator of ``TrackedFrame`` (``tracker.pipeline.track``)."""
    from tracker.pipeline import track as _track

    return _track(source, config, **overrides)
