"""``python -m ttscale.prm_eval prm=<config> data=<processbench jsonl> [results=<parquet>]``.

See :mod:`ttscale.learn.prm_eval`.
"""

from ttscale.learn.prm_eval import main

if __name__ == "__main__":
    raise SystemExit(main())
