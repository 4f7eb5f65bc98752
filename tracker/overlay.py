"""``python -m tracker.overlay``: overlays of a finished run's predictions (``tracker.viz.overlay``)."""
import sys

from tracker.viz.overlay import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
