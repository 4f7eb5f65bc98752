"""posetrack's flow package: optical-flow backends, keypoint and box propagation, NMS.

Never imports ``pose`` or ``tracker``: keypoints are plain arrays.
"""
