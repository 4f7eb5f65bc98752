"""Tests of the pose package, mirroring pose/."""
