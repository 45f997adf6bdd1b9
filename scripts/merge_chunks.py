#!/usr/bin/env python
"""Merge the chunks of every run of a sweep, by hand, from the overrides given to run.py.

Give the same overrides as the sweep (comma sweeps, range() and glob() expand as in Hydra;
shard.index is not needed, every shard of a run is merged):

    python scripts/merge_chunks.py approach=dvts n=4,16 shard.count=8
    python scripts/merge_chunks.py n=2,4 dataset.num_samples=20 shard.count=4 storage.results_dir=out

Each run's chunks are validated (readable parquet, exactly its rows, no duplicate problems,
no gaps). A complete run is written as ``merged.parquet`` + ``merged.json`` (metrics
recomputed over all rows) beside its chunks, or as a config on the Hub (storage=hub). An
incomplete run is not written: its missing ranges and the one command that reruns exactly
those shards are printed, and the exit code is 1.
"""

from __future__ import annotations

import sys

from hydra.errors import HydraException

from ttscale.config.preflight import BAD_INPUT
from ttscale.sweep import merge_sweep, overrides_parser
from ttscale.sweep.hydra import compose_sweep


def main(argv: list[str] | None = None) -> int:
    parser = overrides_parser(__doc__)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    try:
        return merge_sweep(compose_sweep(args.overrides), progress=not args.no_progress)
    except (*BAD_INPUT, HydraException) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
