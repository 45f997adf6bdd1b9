"""Find runs: in a local results folder, or in a Hub dataset whose configs follow the grammar.

Local layout (what :mod:`ttscale.storage` writes):
``{results_dir}/{model}/{prm}/{approach}/{fingerprint}/{run name}/`` holding
``chunk-{start}_{end}.parquet`` shards and/or a merged parquet (any other name). A folder with
a merged file is read from it alone; otherwise its chunks are read together, and they must
all carry one run identity (the fingerprint in each file's summary): a mix is an error that
names the files. search-and-learn / hotncold datasets saved as ``{anything}/{run name}.parquet``
(or ``.jsonl``) are found too, their approach guessed from the name, and so is
search-and-learn's local output ``data/{model path}/{approach}_completions.jsonl``.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ttscale.storage.naming import RunName, parse_chunk_name, parse_run_name

log = logging.getLogger(__name__)

__all__ = ["Run", "discover", "discover_hub", "discover_local", "filter_runs", "hub_runs"]

_SUFFIXES = (".parquet", ".jsonl")
_SAL_OUTPUT = re.compile(r"(best_of_n|beam_search|dvts)_completions")


@dataclass
class Run:
    """One run (all shards of one configuration and seed).

    Attributes:
        model: Model folder name ("unknown" for anchor datasets), with ``+ {prm}`` when a
            PRM scored the run, so runs of different PRMs never share a group.
        approach: Approach folder name (or guessed from the name).
        name: The parsed run name.
        files: Local files holding its rows (merged file, or every chunk).
        hub: ``(repo_id, config)`` for a Hub run, else None.
        fingerprint: The run identity's fingerprint (None for anchor outputs).
        variant: The identity without the seed, fingerprinted: the seeds of one experiment
            share it, and runs whose names agree but whose settings differ do not.
        keep: A confidence scorer's ``scorer.keep`` (DeepConf's eta), for the ``filtered``
            vote; None for PRM-scored, unscored and anchor runs.
    """

    model: str
    approach: str
    name: RunName
    files: list[Path] = field(default_factory=list)
    hub: tuple[str, str] | None = None
    fingerprint: str | None = None
    variant: str | None = None
    keep: float | None = None

    @property
    def key(self) -> str:
        """``model/approach/run name`` (and ``@fingerprint``), what ``--filter`` matches."""
        tail = f"@{self.fingerprint}" if self.fingerprint else ""
        return f"{self.model}/{self.approach}/{self.name.base}{tail}"


def guess_approach(name: RunName) -> str:
    """Approach of an anchor run whose folder does not say it: step search if it has ``m-``."""
    if name.beam_width is not None:
        return "beam_search"
    return "best_of_n"


def _is_approach(name: str) -> bool:
    from ttscale.search import APPROACHES

    return name in APPROACHES


def _parse(text: str) -> RunName | None:
    try:
        return parse_run_name(text)
    except ValueError as err:
        log.debug("skipping %s: %s", text, err)
        return None


def _run_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in _SUFFIXES)
    merged = [p for p in files if parse_chunk_name(p.stem) is None]
    return merged or files


def discover_local(root: str | Path) -> list[Run]:
    """Every run under ``root``, sorted by key.

    Args:
        root: A results folder (``storage.results_dir``), or any folder holding run folders
            or run-named files.

    Returns:
        The runs found; folders and files whose names do not parse are skipped (logged).

    Raises:
        ValueError: a run's files carry different run identities (named, with the keys
            that differ).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"results folder {str(root)!r} does not exist")
    runs: dict[tuple[str, ...], Run] = {}
    folders = sorted({p.parent for s in _SUFFIXES for p in root.rglob(f"*{s}")})
    for folder in folders:
        if ".checkpoints" in folder.relative_to(root).parts:
            continue  # partial shards, not results
        name = _parse(folder.name)
        if name is not None:
            _add(runs, root, folder, name, _run_files(folder))
            continue
        for path in _run_files(folder):  # anchor files named after their run
            name = _parse(path.stem) or _sal_output(path, root)
            if name is not None:
                _add(runs, root, folder, name, [path], own_folder=False)
    return sorted(runs.values(), key=lambda r: r.key)


def _sal_output(path: Path, root: Path) -> RunName | None:
    """search-and-learn's local output ``data/{model}/{approach}_completions.jsonl``."""
    if path.suffix != ".jsonl" or not _SAL_OUTPUT.fullmatch(path.stem):
        return None
    return RunName(name=path.stem, dataset="unknown", schedule="unknown", temperatures=())


def _identity_of(files: list[Path]) -> tuple[dict | None, str | None]:
    """The summary and fingerprint that a run's files share; a mix is a ValueError naming them."""
    from ttscale.identity import differences
    from ttscale.storage import read_summary

    summaries = [read_summary(f) if f.suffix == ".parquet" else None for f in files]
    prints = [(s or {}).get("fingerprint") for s in summaries]
    odd = next((i for i, fp in enumerate(prints) if fp != prints[0]), None)
    if odd is not None:
        diff = differences(
            (summaries[0] or {}).get("identity"), (summaries[odd] or {}).get("identity") or {}
        )
        listing = "; ".join(f"{f.name}: {fp or 'no identity'}" for f, fp in zip(files, prints))
        raise ValueError(
            f"{files[0].parent}: its files come from runs with other settings "
            f"({'; '.join(diff)}); files by fingerprint: {listing}. Move them apart first"
        )
    return summaries[0], prints[0]


def _add(
    runs: dict[tuple[str, ...], Run],
    root: Path,
    folder: Path,
    name: RunName,
    files: list[Path],
    own_folder: bool = True,
) -> None:
    if not files:
        return
    rel = folder.relative_to(root).parts
    parents = rel[:-1] if own_folder else rel
    if not own_folder and _SAL_OUTPUT.fullmatch(name.name):
        model, approach = "/".join(rel[-2:]) or "unknown", name.name.split("_completions")[0]
        key: tuple[str, ...] = (model, approach, str(files[0]))
        runs[key] = Run(model=model, approach=approach, name=name, files=list(files))
        return
    if not own_folder and not (parents and _is_approach(parents[-1])):
        parents = ()  # an anchor file in some folder: neither model nor approach is known
    summary, fp = _identity_of(files)
    ident = (summary or {}).get("identity")
    if ident is not None and len(parents) >= 4:  # {model}/{prm}/{approach}/{fingerprint}
        model, prm, approach = parents[-4], parents[-3], parents[-2]
        model = model if prm == "none" else f"{model} + {prm}"
    else:
        model = parents[-2] if len(parents) >= 2 else "unknown"
        approach = parents[-1] if parents else guess_approach(name)
    variant = None
    if ident is not None:
        from ttscale.identity import fingerprint

        variant = fingerprint({k: v for k, v in ident.items() if k != "seed"})
    key = (model, approach, name.base, fp or "")
    if key in runs:  # another file of the same run (e.g. a chunk named as a file)
        runs[key].files.extend(files)
    else:
        keep = ident.get("scorer.keep") if ident else None  # only confidence scorers store it
        runs[key] = Run(model, approach, name, list(files), fingerprint=fp, variant=variant,
                        keep=keep)  # fmt: skip


def hub_runs(repo_id: str, paths: Iterable[str], model: str = "unknown") -> list[Run]:
    """Runs of a Hub dataset, from its file paths (``{config}/...parquet``).

    Configs and branches are named by the subset grammar; chunk branches
    (``...--chunk-0_50``) are skipped in favour of merged configs.

    Args:
        repo_id: The dataset repo, e.g. ``user/math500-bon``.
        paths: File paths in the repo (``HfApi().list_repo_files``).
        model: Model label for the report.
    """
    configs: dict[str, RunName] = {}
    for path in paths:
        parts = path.split("/")
        if len(parts) < 2 or not path.endswith(".parquet"):
            continue
        for part in parts[:-1]:
            name = _parse(part)
            if name is not None and name.chunk is None:
                configs[part] = name
                break
    return [
        Run(model=model, approach=guess_approach(n), name=n, hub=(repo_id, c))
        for c, n in sorted(configs.items())
    ]


def discover_hub(repo_id: str, model: str = "unknown") -> list[Run]:
    """Runs of a Hub dataset (needs ``huggingface_hub`` and network access)."""
    try:
        from huggingface_hub import HfApi
    except ImportError:
        raise ImportError("reading from the Hub needs `pip install ttscale[hub]`") from None
    files = HfApi().list_repo_files(repo_id, repo_type="dataset")
    return hub_runs(repo_id, files, model)


def discover(sources: Sequence[str]) -> list[Run]:
    """Runs from each source: a local folder, or ``hub:{repo_id}``."""
    runs: list[Run] = []
    for source in sources:
        if source.startswith("hub:"):
            runs.extend(discover_hub(source[4:]))
        else:
            runs.extend(discover_local(source))
    return runs


def filter_runs(runs: Sequence[Run], patterns: Sequence[str]) -> list[Run]:
    """Runs whose key (``model/approach/name``) contains every pattern (or matches its glob)."""

    def ok(key: str, pattern: str) -> bool:
        if any(c in pattern for c in "*?["):
            return fnmatch.fnmatch(key, pattern) or fnmatch.fnmatch(key, f"*{pattern}*")
        return pattern in key

    return [r for r in runs if all(ok(r.key, p) for p in patterns)]
