"""Evaluation of pose tracking: keypoint HOTA and the PoseTrack21 kit's frame rules."""
