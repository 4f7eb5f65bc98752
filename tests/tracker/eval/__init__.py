"""Tests of tracker/eval/ (the PoseTrack evaluator)."""
