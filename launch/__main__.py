"""``python -m launch`` is ``distgrad-run``."""

import sys

from launch.cli import main

sys.exit(main())
