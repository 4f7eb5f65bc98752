"""Tests of the flow package, mirroring flow/."""
