"""posetrack's tracker: the streaming video -> tracked poses pipeline, its outputs and the PoseTrack evaluator."""
from tracker.types import Boxes, Frame, Poses, TrackedFrame

__all__ = ["Boxes", "Frame", "Poses", "TrackedFrame"]
