"""``python -m pose.data.synthetic``: see ``pose.data.synthetic.cli``."""
import sys

from pose.data.synthetic.cli import main

sys.exit(main())
