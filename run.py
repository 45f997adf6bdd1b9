#!/usr/bin/env python
"""ttscale's entrypoint: compose the config with Hydra and run one shard.

python run.py                                   # best-of-N on the embedded toy world
python run.py approach=majority n=32 temperature=0.6 dataset.num_samples=50
python run.py --cfg job                         # print the composed config
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

import ttscale.config  # noqa: F401  (registers the ${ttscale_root:} resolver)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def cli(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from ttscale.backends.openai import ServerError  # light: httpx is imported on first use
    from ttscale.config import ignored_overrides
    from ttscale.config.hints import as_typed
    from ttscale.config.preflight import BAD_INPUT
    from ttscale.run.pipeline import main

    try:
        ignored_overrides(cfg, HydraConfig.get().overrides.task)  # this job's own overrides
        main(cfg)
    except BAD_INPUT as err:
        # The user's input, not a bug: a clear message, no traceback, presets named as typed
        # (prm=toy, not its family). stderr is scrubbed of secrets (ttscale.redact), so an
        # error that quotes a value cannot leak a key.
        print(f"error: {as_typed(str(err), HydraConfig.get().runtime.choices)}", file=sys.stderr)
        sys.exit(2)
    except ServerError as err:
        # A server that kept failing after its retries: the message names the request.
        print(f"error: {err}", file=sys.stderr)
        sys.exit(3)


if __name__ == "__main__":
    from ttscale.redact import protect_cli

    protect_cli()  # Hydra's own error messages echo the command line
    from ttscale.run.shutdown import exit_fast

    code: object = None
    try:
        cli()
    except SystemExit as done:
        code = done.code
        if code == 1:  # Hydra's own error, printed above: name a mistyped key's fix
            from ttscale.sweep.hydra import print_override_hints

            print_override_hints(sys.argv[1:])
    exit_fast(code)  # skips a second of module teardown; other exceptions end as usual
