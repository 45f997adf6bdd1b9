"""Everything that touches Hydra, in one module.

Composition (``compose``, ``compose_sweep``), the hints printed when Hydra rejects an
override, and the callback that writes Hydra's ``.hydra/`` files redacted. This is the one
module that imports Hydra internals (``hydra._internal``): ``compose_sweep`` expands a sweep
exactly as the basic sweeper would, which Hydra has no public API for, and ``BasicLauncher``
is the base of ttscale's launcher plugin (``hydra_plugins/ttscale_launcher``). Pinned by ``hydra-core==1.3.8``
in pyproject.toml; ``tests/test_launch.py`` checks it against the real sweeper.
"""

from __future__ import annotations

import atexit
import itertools
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_launcher import BasicLauncher  # noqa: F401  (the plugin's base)
from hydra.experimental.callback import Callback

from ttscale.files import atomic_write_bytes
from ttscale.paths import ROOT
from ttscale.redact import protect_output, redact, redact_multirun_yaml, scrub, secret_values


def compose(*overrides: str) -> Any:
    """Compose ``conf/config.yaml`` exactly as run.py does (for scripts and tests)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides))


def compose_sweep(overrides: Sequence[str]) -> list[Any]:
    """One composed config per run of a sweep given run.py-style overrides.

    Comma sweeps, ``range()``, ``glob()`` and ``hydra.sweeper.params`` expand as Hydra's basic
    sweeper expands them (command line wins); shard.index sweeps are dropped, since a
    run's plan covers all its shards anyway.
    """
    from hydra import compose, initialize_config_dir
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path
    from hydra.core.override_parser.overrides_parser import OverridesParser

    conf = str(ROOT / "conf")
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(conf))
    parser = OverridesParser.create(config_loader=loader)
    cli = [o for o in overrides if o not in ("-m", "--multirun")]
    parsed = parser.parse_overrides(cli)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        base = compose(config_name="config", overrides=fixed, return_hydra_config=True)
        params = base.hydra.sweeper.get("params") or {}
        swept = parser.parse_overrides([f"{k}={v}" for k, v in params.items()]) + parsed
        kept = {o.get_key_element(): o for o in swept if o.key_or_group != "shard.index"}
        choices = [
            [f"{k}={v}" for v in o.sweep_string_iterator()]
            if o.is_sweep_override()
            else [o.input_line]  # as the user typed it, for the rerun command
            for k, o in kept.items()  # later wins, as in Hydra's basic sweeper
        ]
        jobs = [list(j) for j in itertools.product(*choices)]
        return [compose(config_name="config", overrides=j, return_hydra_config=True) for j in jobs]


def override_hints(argv: Sequence[str]) -> list[str]:
    """One hint per ``key=value`` override whose key the composed config lacks."""
    from omegaconf import DictConfig, OmegaConf

    from ttscale.config import RunConfig, known_keys
    from ttscale.config.hints import close_key, sal_hint

    groups = {p.name for p in (ROOT / "conf").iterdir() if p.is_dir()} | {"recipe"}
    pairs = [a.split("=", 1) for a in argv if "=" in a and not a.startswith(("-", "~"))]
    selections = [f"{k}={v}" for k, v in pairs if k.lstrip("+") in groups]
    try:
        cfg = compose(*selections)  # the groups as chosen, so their keys are there
    except Exception:  # noqa: BLE001 - a broken group choice has Hydra's own message
        return []
    hints = []
    for key, _value in pairs:
        sal = sal_hint(key)
        if sal is not None:
            hints.append(f"hint: {sal}")
            continue
        if key.startswith(("+", "hydra")) or key in groups or "/" in key:
            continue
        if (
            OmegaConf.select(cfg, key, default=_ABSENT, throw_on_resolution_failure=False)
            is not _ABSENT
        ):
            continue
        parent, _, last = key.rpartition(".")
        node: Any = (
            OmegaConf.select(cfg, parent, default=None, throw_on_resolution_failure=False)
            if parent
            else cfg
        )
        keys = list(node.keys()) if isinstance(node, DictConfig) else []
        guess = close_key(
            last, keys + known_keys(None, RunConfig, parent.split(".") if parent else [])
        )
        if guess:
            full = f"{parent}.{guess}" if parent else guess
            # No value echoed: a mistyped secret key would not be recognised as secret.
            hints.append(f"hint: there is no key {key!r}; did you mean {full}?")
    return hints


def print_override_hints(argv: Sequence[str]) -> None:
    for hint in override_hints(argv):
        print(hint, file=sys.stderr)


_ABSENT = object()


class RedactedHydraOutput(Callback):
    """Writes Hydra's ``.hydra/{config,hydra,overrides}.yaml`` with secrets redacted.

    Used with ``hydra.output_subdir: null`` (Hydra then saves nothing itself); if Hydra did
    save them, they are overwritten. Also scrubs ``sys.argv`` and all output from then on.
    """

    def __init__(self, subdir: str = ".hydra") -> None:
        self.subdir = subdir

    def on_run_start(self, config: Any, **kwargs: Any) -> None:
        """Before Hydra creates its output folder: a read-only or missing mount is one line."""
        creatable(str(config.hydra.run.dir), "hydra.run.dir (paths.log_dir)")

    def on_job_start(self, config: Any, **kwargs: Any) -> None:
        from omegaconf import OmegaConf

        raw = OmegaConf.to_container(config, resolve=False)
        overrides = _overrides(config)
        try:
            data = OmegaConf.to_container(config, resolve=True)  # ${oc.env:...} keys too
        except Exception:  # a broken interpolation: validation will name it
            data = raw
        values = secret_values(data, overrides)
        # wandb records sys.argv as the run's command line; Hydra has parsed it by now
        sys.argv[:] = [scrub(a, values) for a in sys.argv]
        protect_output(values)
        hydra = raw.pop("hydra")
        out = Path(config.hydra.runtime.output_dir) / (config.hydra.output_subdir or self.subdir)
        files = {"config.yaml": raw, "hydra.yaml": {"hydra": hydra}, "overrides.yaml": overrides}
        for name, content in files.items():
            text = OmegaConf.to_yaml(OmegaConf.create(redact(content)))
            _write(out / name, scrub(text, values))

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        """The sweeper saves ``multirun.yaml`` with the overrides verbatim, after this hook;
        ttscale's launchers rewrite it redacted before any task starts
        (:func:`redact_multirun_yaml`), and it is rewritten at the end and at exit too.
        Only the path is kept here: this callback is pickled into every submitit job."""
        creatable(str(config.hydra.sweep.dir), "hydra.sweep.dir (paths.log_dir)")
        self._multirun = str(Path(str(config.hydra.sweep.dir)) / "multirun.yaml")
        atexit.register(self.on_multirun_end, config)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        path = getattr(self, "_multirun", None)
        if path is not None:
            redact_multirun_yaml(Path(path), _overrides(config))


def creatable(folder: str, key: str) -> None:
    """Create ``folder`` or exit 2 with one line naming ``key`` (Hydra would print a traceback)."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(f"error: {key}: cannot create {folder!r}: {err.strerror or err}", file=sys.stderr)
        raise SystemExit(2) from None


def _overrides(config: Any) -> list[str]:
    """The command-line overrides as given (a value like ``${oops}`` left unresolved)."""
    from omegaconf import OmegaConf

    return [str(o) for o in OmegaConf.to_container(config.hydra.overrides.task, resolve=False)]


def _write(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
