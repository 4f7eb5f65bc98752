"""Debugging overlays: ``render`` draws one tracked frame, ``overlay`` writes mp4 / PNG / contact-sheet outputs
(``python -m tracker.overlay``)."""
