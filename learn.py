#!/usr/bin/env python
"""ttscale's learn entrypoint: label PRM data with the policy, train a PRM, evaluate it.

python learn.py                                   # the toy verifier -> models/toy-prm
python learn.py prm_format=token_classification out=results/prms/toy-tc
python learn.py --cfg job                         # print the composed config
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

import ttscale.config  # noqa: F401  (registers the ${ttscale_root:} resolver)


@hydra.main(version_base="1.3", config_path="conf/learn", config_name="config")
def cli(cfg: DictConfig) -> None:
    from ttscale.config.preflight import BAD_INPUT
    from ttscale.learn.config import validate_learn
    from ttscale.learn.run import learn

    try:
        learn(validate_learn(cfg))
    except BAD_INPUT as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    cli()
