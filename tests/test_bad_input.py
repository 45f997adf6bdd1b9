"""Bad input fails before any model loads, with a message naming the key, row, line or file.

Every case goes through the real entry point, ``pipeline.main(compose(...))`` (Hydra's own
composition errors through ``compose``), with model loading replaced by a tripwire; a few
go through ``python run.py`` to check exit code 2 and a short error without a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest
from hydra.errors import ConfigCompositionException

from tests.conftest import ROOT, compose
from ttscale.config.preflight import BAD_INPUT


class ModelLoaded(AssertionError):
    """A model started loading: the bad input was not caught early."""


@pytest.fixture(autouse=True)
def no_model_loads(monkeypatch):
    """Fail the test if the generator, the PRM or any transformers model starts loading."""
    import transformers

    import ttscale.backends
    import ttscale.prm

    def tripwire(*args, **kwargs):
        raise ModelLoaded("a model started loading before the bad input was rejected")

    monkeypatch.setattr(ttscale.backends, "build_generator", tripwire)
    monkeypatch.setattr(ttscale.prm, "build_prm", tripwire)
    monkeypatch.setattr(transformers.PreTrainedModel, "from_pretrained", classmethod(tripwire))


def rejected(make_cfg, *overrides: str) -> str:
    """The error message ``pipeline.main`` raises for ``overrides`` (it must raise)."""
    from ttscale.run.pipeline import main

    cfg = make_cfg(*overrides)
    with pytest.raises(BAD_INPUT) as err:
        main(cfg)
    return str(err.value)


# --- config values ----------------------------------------------------------------------------

CONFIG_CASES = {
    # unknown keys and wrong types
    "unknown dataset key": (
        ["+dataset.spilt=train"],
        "dataset.spilt: unknown key; did you mean dataset.split?",
    ),
    "unknown approach key": (
        ["approach=beam_search", "+approach.beam_widht=2"],
        "approach.beam_widht: unknown key; did you mean approach.beam_width?",
    ),
    "unknown key unlike any": (["+model.zzzzz=1"], "model.zzzzz: unknown key (typo?)"),
    "unknown approach name": (["approach.name=beem_search"], "approach.name: unknown approach"),
    "wrong type int": (["max_tokens=lots"], "max_tokens: Input should be a valid integer"),
    "wrong type bool": (["progress=maybe"], "progress: Input should be a valid boolean"),
    "wrong type list": (["seed=[1,2]"], "seed: Input should be a valid integer"),
    "unknown backend": (["model.backend=tgi"], "model.backend: Input should be"),
    "broken interpolation": (["n=${oops}"], "n: Interpolation key 'oops' not found"),
    # approaches
    "n not divisible by beam_width": (
        ["approach=beam_search", "n=10"],
        "approach.beam_width: n (10) must be divisible by beam_width (4)",
    ),
    "n not divisible by dvts beam_width": (
        ["approach=dvts", "n=6", "approach.beam_width=4"],
        "approach.beam_width: n (6) must be divisible by beam_width (4)",
    ),
    "tau out of range": (
        ["approach=two_stage_voting", "temps=grid", "approach.tau_intra=1.5"],
        "approach.tau_intra",
    ),
    # temperatures
    "ratios do not sum to 1": (
        ["temps=hnc", "temperature_schedule.ratios=[0.3,0.3]"],
        "temperature_schedule.ratios: must sum to 1, got 0.6",
    ),
    "one ratio per temperature": (
        ["temps=hnc", "temperature_schedule.ratios=[1.0]"],
        "temperature_schedule.ratios: has 1 entries but temperatures has 2",
    ),
    "negative temperature in a list": (
        ["temps=hnc", "temperature_schedule.temperatures=[0.4,-0.8]"],
        "temperature_schedule.temperatures: temperatures must be finite and >= 0, got -0.8",
    ),
    "NaN temperature": (
        ["temps=cycle", "temperature_schedule.temperatures=[0.4,nan]"],
        "temperature_schedule.temperatures: temperatures must be finite and >= 0, got nan",
    ),
    "negative single temperature": (["temperature=-0.5"], "temperature: must be a finite number"),
    "empty grid list": (
        ["temps=grid", "temperature_schedule.temperatures=[]"],
        "temperature_schedule.temperatures: empty grid",
    ),
    "empty grid range": (
        ["temps=grid", "temperature_schedule.temperatures=1.0:0.5:0.1"],
        "temperature_schedule.temperatures: empty grid: stop < start",
    ),
    "early probe over budget": (
        ["temps=early", "temperature_schedule.probe=20"],
        "temperature_schedule.probe=20",
    ),
    # rows, shards
    "dataset.start past the end": (["dataset.start=600"], "dataset.start: 600 is past"),
    "dataset.end past the end": (
        ["dataset.end=501", "dataset.num_samples=null"],
        "dataset.end: 501 is past the dataset's end (500 rows)",
    ),
    "dataset.end before start": (
        ["dataset.start=10", "dataset.end=5"],
        "dataset.end (5) must be > dataset.start (10)",
    ),
    "num_samples zero": (["dataset.num_samples=0"], "dataset.num_samples"),
    "shard index >= count": (
        ["shard.index=4", "shard.count=4"],
        "shard.index (4) must be < shard.count (4)",
    ),
    "shard count zero": (["shard.count=0"], "shard.count"),
    # paths and the Hub
    "model path missing": (
        ["model.path=/nonexistent/toy-policy"],
        "model.path: no such model folder '/nonexistent/toy-policy'",
    ),
    "model path not a repo id": (
        ["model.path=Qwen/Qwen2.5--1.5B"],
        "model.path: 'Qwen/Qwen2.5--1.5B' is neither a model folder nor a valid Hub repo id",
    ),
    "prm path missing": (["prm.path=/nonexistent/toy-prm"], "prm.path: no such model folder"),
    "prm step token not in tokenizer": (
        ["prm.step_tag='<step>'"],
        "prm.step_tag='<step>' is not a single token of this PRM's tokenizer",
    ),
    "prm label token not in tokenizer": (
        ["prm.name=math_shepherd", "+prm.good_token='\u00a7'"],
        "prm.good_token='\u00a7' is not a single token",
    ),
    "malformed Hub repo id": (
        ["storage=hub", "storage.repo_id=me//results--v1"],
        "storage.repo_id: must be a Hub repo id",
    ),
    # values that used to fail late or pass silently
    "negative seed": (["seed=-5"], "seed: Input should be greater than or equal to 0"),
    "seed past 64 bits": (["seed=18446744073709551616"], "seed: Input should be less than"),
    "huge n": (["n=100000000"], "n: 100000000 is past 16384 completions per problem"),
    "huge max_tokens": (["max_tokens=100000000"], "max_tokens: 100000000 is past 262144"),
    "absurd temperature": (["temperature=1e300"], "temperature: 1e+300 is past 4"),
    "absurd schedule temperature": (
        ["temps=hnc", "temperature_schedule.temperatures=[0.4,9.0]"],
        "temperature: 9 is past 4",
    ),
    "num_samples cuts start..end": (
        ["dataset.start=0", "dataset.end=10", "dataset.num_samples=4"],
        "dataset.num_samples=4 would cut dataset.start..end (10 rows) to 4",
    ),
    "model name too long for a folder": (
        ["model.name=" + "m" * 5000],
        "model.name: String should have at most 128 characters",
    ),
}


def test_force_limits_accepts_past_the_sane_bounds():
    from ttscale.config import validate

    run = validate(compose("n=20000", "force_limits=true", "temperature=4.5"))
    assert run.n == 20000 and run.temperature == 4.5


@pytest.mark.parametrize("overrides,expected", CONFIG_CASES.values(), ids=CONFIG_CASES.keys())
def test_bad_config_is_rejected_naming_the_key(make_cfg, overrides, expected):
    assert expected in rejected(make_cfg, *overrides)


def test_model_folder_without_config_json(make_cfg, tmp_path):
    (tmp_path / "empty-model").mkdir()
    msg = rejected(make_cfg, f"model.path={tmp_path / 'empty-model'}")
    assert "model.path:" in msg and "has no config.json" in msg


def test_model_path_that_is_a_file(make_cfg, tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    msg = rejected(make_cfg, f"prm.path={tmp_path / 'model.safetensors'}")
    assert "prm.path:" in msg and "model.safetensors' is a file, not a model folder" in msg


def test_prm_folder_without_a_tokenizer(make_cfg, tmp_path):
    (tmp_path / "prm").mkdir()
    (tmp_path / "prm" / "config.json").write_text('{"model_type": "llama"}')
    msg = rejected(make_cfg, f"prm.path={tmp_path / 'prm'}")
    assert f"prm.path: cannot load '{tmp_path / 'prm'}': " in msg


def test_offline_hub_id_not_in_the_cache(make_cfg, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    msg = rejected(make_cfg, "model.path=ttscale-test/not-a-cached-model")
    assert "model.path: 'ttscale-test/not-a-cached-model' is not a local folder" in msg


def test_unwritable_output_folder(make_cfg, tmp_path):
    # We run as root, so a chmod'ed folder would still be writable; a path *under a regular
    # file* cannot be created by anyone.
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    msg = rejected(make_cfg, f"storage.results_dir={blocker / 'results'}")
    assert "storage.results_dir" in msg and str(blocker) in msg


@pytest.mark.parametrize(
    "override,fragments",
    [
        ("approach=nonexistent", ["approach/nonexistent", "best_of_n", "beam_search"]),
        ("bogus_key=1", ["bogus_key", "+bogus_key=1"]),
    ],
    ids=["unknown group option lists the valid ones", "unknown key without +"],
)
def test_hydra_rejects_unknown_options_and_keys(override, fragments):
    with pytest.raises(ConfigCompositionException) as err:
        compose(override)
    msg = f"{err.value} {err.value.__cause__}"
    assert all(f in msg for f in fragments), msg


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["nn=4"], "there is no key 'nn'; did you mean n?"),
        (["approach=beam_search", "approach.beamwidth=4"], "did you mean approach.beam_width?"),
        (["prm=toy", "prm.batchsize=8"], "did you mean prm.batch_size?"),
        (["model.api_kye=sk-test-0123456789"], "did you mean model.api_key?"),
    ],
)
def test_a_mistyped_key_gets_the_key_it_resembles(argv, hint):
    from ttscale.sweep.hydra import override_hints

    (got,) = override_hints(argv)
    assert hint in got and "sk-test" not in got  # values are never echoed


def test_no_hint_for_known_or_unlike_keys():
    from ttscale.sweep.hydra import override_hints

    assert override_hints(["n=4", "approach=dvts", "approach.beam_width=2"]) == []
    assert override_hints(["zzzzzz=1", "+nn=4", "hydra.job.chdir=true"]) == []


def test_cli_prints_the_hint_after_hydras_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "run.py", "tempreature=0.5", f"paths.log_dir={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert "Could not override 'tempreature'" in proc.stderr
    assert proc.stderr.rstrip().endswith("did you mean temperature?")


# --- datasets ---------------------------------------------------------------------------------


def row(i: int, **fields) -> str:
    return json.dumps(
        {"unique_id": f"u{i}", "problem": f"Compute {i}+1.", "answer": str(i + 1)} | fields
    )


DATASET_CASES = {
    "missing file": (None, "dataset.path: no such file"),
    "empty file": ("", "has no rows"),
    "malformed JSONL names the line": (
        [row(0), row(1), '{"problem": "2+2", "answer": '],
        "d.jsonl:3: malformed JSON",
    ),
    "a line that is not an object": ([row(0), '["2+2", "4"]'], "d.jsonl:2: a row must be a JSON"),
    "missing problem field": (
        [row(0), json.dumps({"unique_id": "u1", "answer": "2"})],
        "row 1 (line 2): missing field 'problem'",
    ),
    "missing answer field": (
        [row(0), "", row(1), json.dumps({"unique_id": "u2", "problem": "p"})],
        "row 2 (line 4): missing field 'answer'",
    ),
    "duplicate ids": (
        [row(0), row(1), row(2, unique_id="u0")],
        "rows 0, 2 (lines 1, 3): duplicate id 'u0'",
    ),
    "list answer": (
        [row(0), row(1, answer=["2"])],
        "row 1 (line 2): field 'answer' must be a string, got list",
    ),
    "null answer": (
        [row(0, answer=None)],
        "row 0 (line 1): field 'answer' must be a string, got NoneType",
    ),
    "float answer": (
        [row(0, answer=0.5)],
        "row 0 (line 1): field 'answer' must be a string, got float",
    ),
    "empty problem": (
        [row(0), row(1, problem="  ")],
        "row 1 (line 2): field 'problem' must be a non-empty",
    ),
    "dict id": (
        [row(0), row(1, unique_id={"a": 1})],
        "row 1 (line 2): field 'unique_id' must be a string or an integer, got dict",
    ),
    "a prompt longer than the model's context": (
        [row(0), row(1, problem="1+" * 400 + "1")],  # the toy policy's context is 512
        "row 1 (id u1): its prompt is",
    ),
}


def test_a_jsonl_with_a_utf8_bom_is_read(make_cfg, tmp_path):
    from ttscale.run.pipeline import select_problems

    path = tmp_path / "bom.jsonl"
    path.write_bytes("\ufeff".encode() + (row(0) + "\n" + row(1) + "\n").encode())
    cfg = make_cfg("dataset=math500", "dataset.source=file", f"dataset.path={path}")
    from ttscale.config import validate

    problems, _, _ = select_problems(validate(cfg))
    assert [p.unique_id for p in problems] == ["u0", "u1"]


@pytest.mark.parametrize("lines,expected", DATASET_CASES.values(), ids=DATASET_CASES.keys())
def test_bad_dataset_is_rejected_naming_row_or_line(make_cfg, tmp_path, lines, expected):
    path = tmp_path / "d.jsonl"
    if lines is not None:
        path.write_text(lines if isinstance(lines, str) else "\n".join(lines) + "\n")
    msg = rejected(make_cfg, "dataset=math500", "dataset.source=file", f"dataset.path={path}")
    assert expected in msg and str(path) in msg, msg


def test_every_bad_row_and_duplicate_id_is_named_at_once(make_cfg, tmp_path):
    lines = [row(0), row(1, answer=None), row(2), row(3, unique_id="u0"), row(4, unique_id="u2")]
    lines += [json.dumps({"unique_id": f"x{i}", "problem": "p"}) for i in range(12)]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(lines))
    msg = rejected(make_cfg, "dataset=math500", "dataset.source=file", f"dataset.path={path}")
    lines = msg.splitlines()
    assert (
        lines[0]
        == f"dataset.path={path} row 1 (line 2): field 'answer' must be a string, got NoneType"
    )
    assert lines[1].endswith(
        "row 5 (line 6): missing field 'answer' (has ['problem', 'unique_id'])"
    )
    assert len(lines) == 11 and lines[-1] == "... and 5 more"  # 13 bad rows + 2 duplicate ids


def test_hub_dataset_without_the_datasets_package(make_cfg, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    msg = rejected(make_cfg, "dataset=math500")
    assert "dataset.source=hub needs the `datasets` package" in msg


def test_hub_dataset_that_cannot_be_loaded(make_cfg, monkeypatch):
    def load_dataset(path, split):
        raise ConnectionError(f"cannot reach the Hub for {path}")

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    msg = rejected(make_cfg, "dataset=math500", "dataset.split=tset")
    assert "dataset.path='HuggingFaceH4/MATH-500', dataset.split='tset': cannot load" in msg
    assert "ConnectionError: cannot reach the Hub" in msg


@pytest.mark.parametrize(
    "name,content,expected",
    [
        ("d.csv", b"problem,answer\n1+1,2\n", "must end in .jsonl, .json or .parquet"),
        ("d.parquet", b"PAR1 truncated", "is not readable parquet"),
        ("d.jsonl", b'{"problem": "\xff\xfe"}\n', "is not UTF-8 text (byte 13)"),
        ("d.json", b'[{"problem": "a", "answer": "1"},\n {"problem": }]', "d.json:2: malformed"),
        ("d.json", b'[{"problem": "a", "answer": "1"}, "b"]', "d.json row 1: a row must be"),
    ],
    ids=["unknown extension", "corrupt parquet", "not UTF-8", "malformed JSON array", "not rows"],
)
def test_unreadable_dataset_file_is_named(make_cfg, tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    msg = rejected(make_cfg, "dataset=math500", "dataset.source=file", f"dataset.path={path}")
    assert str(path) in msg and expected in msg, msg


def test_file_dataset_without_a_path(make_cfg):
    assert "dataset.path is required" in rejected(make_cfg, "dataset.source=file")


# --- through the CLI: exit code 2, one clear line, no traceback -------------------------------


def cli_cases(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text(row(0) + "\n{oops\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    return {
        "malformed dataset": (
            ["dataset=math500", "dataset.source=file", f"dataset.path={data}"],
            f"{data}:2: malformed JSON",
        ),
        "missing model": (["model.path=/nonexistent/policy"], "model.path: no such model folder"),
        "unwritable results": ([f"storage.results_dir={blocker}/r"], "storage.results_dir"),
        "broken interpolation": (["n=${oops}"], "n: Interpolation key 'oops' not found"),
        "unwritable log folder": (
            [f"hydra.run.dir={blocker}/logs"],
            "hydra.run.dir (paths.log_dir): cannot create",
        ),
    }


@pytest.mark.parametrize(
    "kind",
    ["malformed dataset", "missing model", "unwritable results", "broken interpolation",
     "unwritable log folder"],
)  # fmt: skip
def test_cli_exits_2_without_a_traceback(tmp_path, kind):
    overrides, expected = cli_cases(tmp_path)[kind]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *overrides, f"paths.log_dir={tmp_path / 'logs'}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr
