"""Tests of tracker/viz/ (rendering and overlays)."""
