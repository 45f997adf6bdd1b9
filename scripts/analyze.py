#!/usr/bin/env python
"""Analyse finished runs: same as ``python -m ttscale.analysis`` (see ``--help``)."""

import sys

from ttscale.analysis.cli import main

if __name__ == "__main__":
    sys.exit(main())
