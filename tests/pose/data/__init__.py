"""Tests of pose/data/ (dataset readers and writers, the synthetic generator)."""
