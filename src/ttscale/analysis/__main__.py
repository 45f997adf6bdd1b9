"""``python -m ttscale.analysis``: see :mod:`ttscale.analysis.cli`."""

import sys

from ttscale.analysis.cli import main

sys.exit(main())
