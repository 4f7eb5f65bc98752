"""The PoseTrack evaluator with the official poseval's numbers (``python -m tracker.evaluate``).

``data``: poseval's frame cleanup and normalised joint distances; ``ap``: per-joint average precision;
``mot``: CLEAR-MOT tracking metrics; ``cli``: loading sequences, the tables and the command line;
``kit_frames``, ``hota``, ``pt21``: the PoseTrack21 kit's frame rules, keypoint HOTA and PoseTrack21 folders.
"""
