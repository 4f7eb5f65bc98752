"""``python -m pose.data.posetrack``: see ``pose.data.posetrack.cli``."""
import sys

from pose.data.posetrack.cli import main

sys.exit(main())
