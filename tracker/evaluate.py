"""``python -m tracker.evaluate``: the PoseTrack evaluator's command line (``tracker.eval.cli``)."""
import sys

from tracker.eval.cli import evaluate, main

__all__ = ["evaluate", "main"]

if __name__ == "__main__":
    sys.exit(main())
