"""Tests of the tracker package, mirroring tracker/."""
