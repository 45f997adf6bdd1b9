"""``learn.py``: label data with the policy, train a PRM, save it, evaluate it on held-out cases.

The output folder holds the PRM (HF format, loadable by ``prm.name=<format>``), the training
records (``prm_data.jsonl``, TRL's stepwise format), the held-out ProcessBench-format cases
(``processbench.jsonl``) and ``learn.json`` (config, data sizes, timings, held-out metrics).
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from ttscale.learn.config import LearnConfig
from ttscale.learn.labels import Labelled, label_with_checker, label_with_rollouts, sample_solutions

CALIBRATION_RECORDS = 4000  # of the policy's labelled samples: plenty for two parameters


def _policy(cfg: LearnConfig) -> tuple[Any, Any, list]:
    """(generator, prompt function, problems) of the data source."""
    from ttscale.backends import build_generator
    from ttscale.config import ModelConfig, validate
    from ttscale.prompts import chat_messages

    d = cfg.data
    if d.source == "toy":
        from ttscale.learn.toy_data import train_problems

        model = ModelConfig(name="policy", path=d.policy, batch_size=256)
        problems = train_problems(d.problems, cfg.seed + 7)
        system, kwargs = None, {}
    else:
        from ttscale.run.pipeline import select_problems
        from ttscale.sweep.hydra import compose

        run = validate(compose(*d.run, "progress=false"))
        model, (problems, _, _) = run.model, select_problems(run)
        system, kwargs = run.model.system_prompt, run.model.chat_template_kwargs
    gen = build_generator(model, seed=cfg.seed, progress=cfg.progress)
    return gen, (lambda p: gen.render(chat_messages(p.problem, system), **kwargs)), problems


def label(cfg: LearnConfig) -> list[Labelled]:
    """The policy's own samples, labelled (checker or rollouts), plus synthetic slips."""
    from ttscale.backends import close_generator

    d = cfg.data
    gen, prompt, problems = _policy(cfg)
    try:
        out: list[Labelled] = []
        for t in d.temperatures:
            sols = sample_solutions(gen, problems, prompt, n=d.samples, temperature=t,
                                    max_tokens=d.max_tokens, seed=cfg.seed)  # fmt: skip
            if d.source == "toy":
                from ttscale.toyworld.arith import check_steps

                out += label_with_checker(problems, sols, check_steps)
            else:
                out += label_with_rollouts(gen, problems, sols, prompt, _grader(),
                                           k=d.k, temperature=d.rollout_temperature,
                                           max_tokens=d.max_tokens, seed=cfg.seed)  # fmt: skip
    finally:
        close_generator(gen)
    return out


def _grader():
    """``(golds, texts) -> verdicts`` through the one grading path."""
    from ttscale.grading import Grader, extract_answer

    def grade(golds: list[str], texts: list[str]) -> list[bool]:
        with Grader() as grader:
            return grader.grade(golds, [extract_answer(t) for t in texts])

    return grade


def pretrain(cfg: LearnConfig, model: Any, tok: Any, tokens: Any) -> float:
    """LM training on exact toy solutions in the PRM's input format; return its seconds.

    The verifier must compute the arithmetic better than the policy whose steps it judges
    (search-and-learn pairs 1B policies with an 8B PRM); the toy world makes that base itself.
    It trains in the very text the PRM reads: a skill learnt under the chat template did not
    carry over to it (docs/results.md).
    """
    from ttscale.learn.toy_data import synthetic, train_problems

    p = cfg.pretrain
    problems = train_problems(p.steps * p.batch_size, cfg.seed + 17)
    records = [r.to_trl() for r in synthetic(problems, 0.0, cfg.seed + 17)]
    settings = dict(steps=p.steps, batch_size=p.batch_size, lr=p.lr, warmup=p.warmup,
                    log_every=cfg.train.log_every)  # fmt: skip
    return _fit(cfg, model, tok, tokens, records, settings, lm_weight=1.0, cls_weight=0.0)


def _fit(cfg: LearnConfig, model: Any, tok: Any, tokens: Any, records: list[dict[str, Any]],
         settings: dict[str, Any], **loss: Any) -> float:  # fmt: skip
    """Run a ``Trainer`` over ``records`` (``settings``: ``training_args``'s, ``loss``:
    ``make_trainer``'s); return its seconds. Its own files go to a scratch folder."""
    from ttscale.learn.trainer import make_trainer, training_args

    scratch = tempfile.mkdtemp(prefix="ttscale-learn-")  # Trainer's own files: not the PRM's
    try:
        args = training_args(scratch, seed=cfg.seed, **settings)
        args.disable_tqdm = not cfg.progress
        trainer = make_trainer(model, tok, tokens, records, args, **loss)
        t0 = time.time()
        trainer.train()
        return time.time() - t0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def learn(cfg: LearnConfig) -> dict[str, Any]:
    """Label, train, save and evaluate; return the report (also in ``out/learn.json``)."""
    import torch

    from ttscale.learn.labels import write_jsonl
    from ttscale.learn.model import add_layers, build_model, freeze_base
    from ttscale.learn.toy_data import synthetic, train_problems, twins
    from ttscale.learn.trainer import Tokens
    from ttscale.run.threads import set_torch_threads

    set_torch_threads(cfg.threads)
    out = Path(cfg.out)
    t0 = time.time()
    records = label(cfg)
    rng = random.Random(cfg.seed)
    rng.shuffle(records)
    held, train = records[: cfg.data.held_out], records[cfg.data.held_out :]
    sampled = list(train)  # the policy's own samples: what a calibration must fit
    if cfg.data.twins and cfg.train.steps:  # extra training records: nothing else reads them
        train += twins(train, cfg.seed + 29)
    if cfg.data.synthetic and cfg.train.steps:
        if cfg.data.source != "toy":
            raise ValueError("data.synthetic: only the toy world has an exact checker")
        train += synthetic(train_problems(cfg.data.synthetic, cfg.seed + 13), 0.5, cfg.seed)
    rng.shuffle(train)
    label_s = time.time() - t0
    print(f"labelled {len(records)} samples in {label_s:.0f}s "
          f"({sum(r.earliest_error == -1 for r in records) / max(1, len(records)):.1%} all good); "
          f"training on {len(train)}, {len(held)} held out", flush=True)  # fmt: skip

    model, tok = build_model(cfg)
    f, t = cfg.prm_format, cfg.train
    # The likelihood PRM reads the math-shepherd input: its LM trains in that text.
    tokens = Tokens("math_shepherd" if f.name == "likelihood" else f.name,
                    f.step_tag, f.good_token, f.bad_token, f.separator)  # fmt: skip
    pretrain_s = pretrain(cfg, model, tok, tokens) if cfg.pretrain.steps else 0.0
    if t.add_layers:
        layers = model.config.num_hidden_layers
        model = add_layers(model, t.add_layers, cfg.seed)
        trainable = freeze_base(model, layers) if t.freeze_base else None
        print(f"{t.add_layers} layers added on the base's {layers}"
              + (f"; the base frozen, {trainable / 1e6:.2f}M parameters train" if trainable
                 else ""), flush=True)  # fmt: skip
    train_s = train_prm(cfg, model, tok, tokens, train) if t.steps else 0.0

    model.to(getattr(torch, cfg.save_dtype)).save_pretrained(out)
    tok.save_pretrained(out)
    calibration = None
    if f.name == "likelihood":  # fitted on the saved weights, read as inference reads them
        from ttscale.learn.calibrate import calibrate

        calibration = calibrate(out, sampled[:CALIBRATION_RECORDS])
        print(f"calibrated on {calibration['steps']} steps: scale {calibration['scale']:.3f}, "
              f"bias {calibration['bias']:.3f}", flush=True)  # fmt: skip
    write_jsonl(out / "prm_data.jsonl", [r.to_trl() for r in train])
    write_jsonl(out / "processbench.jsonl", [r.to_processbench("policy") for r in held])
    report = {"config": cfg.model_dump(), "records": len(records), "train_records": len(train),
              "held_out": len(held), "label_seconds": round(label_s, 1),
              "pretrain_seconds": round(pretrain_s, 1), "train_seconds": round(train_s, 1),
              "calibration": calibration, "held_out_metrics": evaluate(cfg, out, held)}  # fmt: skip
    (out / "learn.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"trained in {pretrain_s + train_s:.0f}s; saved {out}")
    return report


def train_prm(cfg: LearnConfig, model: Any, tok: Any, tokens: Any, train: list[Labelled]) -> float:
    """The PRM's training on the labelled records; return its seconds.

    A classifier learns its +/- (or label) at step ends; the likelihood PRM's LM learns the
    good steps only (the LM loss up to each record's first bad step).
    """
    t = cfg.train
    settings = dict(steps=t.steps, batch_size=t.batch_size, lr=t.lr, warmup=t.warmup,
                    weight_decay=t.weight_decay, log_every=t.log_every)  # fmt: skip
    lm_only = cfg.prm_format.name == "likelihood"
    return _fit(cfg, model, tok, tokens, [r.to_trl() for r in train], settings,
                lm_weight=1.0 if lm_only else t.lm_weight, cls_weight=0.0 if lm_only else 1.0,
                until_error=t.labels == "until_error", rank_weight=t.rank_weight)  # fmt: skip


def evaluate(cfg: LearnConfig, folder: Path, held: list[Labelled]) -> dict[str, Any]:
    """ProcessBench metrics of the saved PRM on the held-out samples (loaded as inference does)."""
    if not held:
        return {}
    from ttscale.config import PRMConfig
    from ttscale.learn.prm_eval import processbench_report, score_cases
    from ttscale.prm import build_prm

    f = cfg.prm_format
    opts = {
        "math_shepherd": {"step_tag": f.step_tag, "good_token": f.good_token,
                          "bad_token": f.bad_token},
        "likelihood": {"step_tag": f.step_tag},
        "token_classification": {"step_separator": f.separator},
    }[f.name]  # fmt: skip
    prm = build_prm(PRMConfig(name=f.name, path=str(folder), batch_size=64, **opts))
    cases = [r.to_processbench() for r in held]
    report = processbench_report([c["label"] for c in cases], score_cases(prm, cases), 0.5)
    pb = report["at_threshold"]
    print(f"held-out ProcessBench F1 {pb['f1']:.3f} (best {report['best']['f1']:.3f} at "
          f"{report['best']['threshold']:.2f}), step AUC {report['step_auc']:.3f}")  # fmt: skip
    report.pop("sweep")
    return report
