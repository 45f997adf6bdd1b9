"""DeepConf online: stopping on scripted log-prob streams, in chunks and in the hf loop."""

from __future__ import annotations

from ttscale.search.base import Context
from ttscale.search.deepconf import DeepConfOnline, generate_stopping
from ttscale.types import Completion, Problem, SamplingParams

HIGH, LOW = (-0.0, -10.0), (-2.0, -2.0)  # token confidence 5.0 and 2.0 (top 2)


class Streams:
    """Streams of (char, top-2 log-probs) per prompt: a fresh sample takes the next one in
    order; a continuation (the chunked path re-sends what was written) finds its own."""

    def __init__(self, streams: dict[str, list[list[tuple[str, tuple]]]]) -> None:
        self.streams = streams
        self.next = {k: 0 for k in streams}
        self.calls: list[list[SamplingParams]] = []

    def generate(self, prompts, params):
        self.calls.append(list(params))
        out = []
        for prompt, p in zip(prompts, params):
            root, written = prompt.split("|", 1)
            comps = []
            for _ in range(p.n):
                if written:
                    stream = next(s for s in self.streams[root]
                                  if "".join(c for c, _ in s).startswith(written))  # fmt: skip
                else:
                    stream = self.streams[root][self.next[root]]
                    self.next[root] += 1
                rest = stream[len(written) :]
                piece = rest[: p.max_tokens]
                finish = "length" if len(rest) > p.max_tokens else "eos"
                comps.append(Completion(
                    "".join(c for c, _ in piece), len(piece), finish,
                    tuple(t[0] for _, t in piece), tuple(t for _, t in piece), prompt_tokens=1,
                ))  # fmt: skip
            out.append(comps)
        return out


def _stream(text: str, conf: list[tuple]) -> list[tuple[str, tuple]]:
    return list(zip(text, conf))


def test_chunked_generation_stops_a_trace_below_the_bar_and_counts_its_tokens():
    good = _stream("a" * 12, [HIGH] * 12)
    bad = _stream("b" * 12, [HIGH] * 3 + [LOW] * 9)
    gen = Streams({"q": [good, bad]})
    p = SamplingParams(n=2, max_tokens=12, seed=1, top_logprobs=2, min_confidence=3.0,
                       confidence_window=4)  # fmt: skip
    (first, second) = generate_stopping(gen, ["q|"], [p], chunk=4)[0]
    assert (first.text, first.num_tokens, first.finish_reason) == ("a" * 12, 12, "eos")
    # window means: tokens 0-3 = 4.25 (ok); the second chunk's windows fall to 2.75 < 3
    assert (second.num_tokens, second.finish_reason) == (8, "confidence")
    assert second.text == "b" * 8 and len(second.top_logprobs) == 8
    assert second.prompt_tokens == 2  # one per chunk call in this double
    assert all(c.min_confidence is None and c.max_tokens <= 4 for call in gen.calls for c in call)


def test_a_backend_that_stops_by_itself_gets_the_call_as_is():
    class Native:
        stops_on_confidence = True

        def generate(self, prompts, params):
            return [["native"]]

    p = SamplingParams(top_logprobs=2, min_confidence=1.0)
    assert generate_stopping(Native(), ["q"], [p], chunk=4) == [["native"]]


def test_the_hf_loop_stops_a_trace_once_its_window_is_below(policy_path):
    from ttscale.backends.hf import HFGenerator

    gen = HFGenerator(policy_path, device="cpu", progress=False)
    base = SamplingParams(n=2, max_tokens=40, seed=3, top_logprobs=5, confidence_window=6)
    never, always = gen.generate(
        ["Compute 1+2.", "Compute 1+2."],
        [SamplingParams(**{**base.__dict__, "min_confidence": -1.0}),
         SamplingParams(**{**base.__dict__, "min_confidence": 1e9})],
    )  # fmt: skip
    assert all(c.finish_reason != "confidence" for c in never)
    # every window is below an impossible bar: each trace stops as soon as one is full
    assert all(c.finish_reason == "confidence" and c.num_tokens == 6 for c in always)
    assert all(len(c.top_logprobs) == 6 for c in always)


def _ctx(gen, n):
    return Context(generator=gen, scorer=None, prompt=lambda p: f"{p.unique_id}|", n=n,
                   temperatures=lambda k: [0.8] * k, top_p=1.0, max_tokens=40, seed=0,
                   agg_strategy="last")  # fmt: skip


def test_online_deepconf_sets_the_bar_stops_low_traces_and_stops_at_consensus():
    def answer(a, conf):
        text = f"\\boxed{{{a}}}"
        return _stream(text, [conf] * len(text))

    mid = (-1.0, -5.0)  # confidence 3.0
    # warm-up: 4 traces, confidences 5, 5, 3, 3; keep=0.5 -> the bar is their median, 4.0
    warm = [answer(7, HIGH), answer(7, HIGH), answer(9, mid), answer(9, mid)]
    later = [answer(9, LOW), answer(9, LOW), answer(7, HIGH), answer(7, HIGH)]
    gen = Streams({"p": warm + later + [answer(7, HIGH)] * 8})
    o = DeepConfOnline.Options(name="deepconf_online", warmup=4, keep=0.5, window=3,
                               top_k=2, consensus=0.95, batch=4, chunk=100)  # fmt: skip
    (r,) = DeepConfOnline(o).search([Problem(0, "p", "p", "7")], _ctx(gen, 16))
    # Warm-up alone: 7 holds 10 of 10 weight above the bar... the 9s weigh 0 (below it).
    assert len(r.completions) == 4 and r.counters["stopped"] == 1
    weights = [s[0] for s in r.scores]
    assert weights == [5.0, 5.0, 0.0, 0.0]
    assert r.counters["vote_index"] == 0


def test_online_deepconf_draws_more_until_consensus_and_drops_stopped_traces():
    def answer(a, conf):
        text = f"\\boxed{{{a}}}"
        return _stream(text, [conf] * len(text))

    warm = [answer(7, HIGH), answer(9, HIGH), answer(7, (-1.0, -5.0)), answer(9, (-1.0, -5.0))]
    later = [answer(9, LOW), answer(9, LOW), answer(7, HIGH), answer(7, HIGH)]
    gen = Streams({"p": warm + later + [answer(7, HIGH)] * 8})
    o = DeepConfOnline.Options(name="deepconf_online", warmup=4, keep=0.5, window=3,
                               top_k=2, consensus=0.7, batch=4, chunk=100)  # fmt: skip
    (r,) = DeepConfOnline(o).search([Problem(0, "p", "p", "7")], _ctx(gen, 16))
    # warm-up: 7 and 9 tie (5 each above the bar 4.0); round 2: two 9s stop low, two 7s count
    assert len(r.completions) == 8
    assert r.counters["stopped_traces"] == 2
    finishes = [c["finish"] for c in r.tree]
    assert finishes[4:6] == ["confidence", "confidence"]
    assert [s[0] for s in r.scores][4:] == [0.0, 0.0, 5.0, 5.0]
    assert r.generated_tokens == sum(r.completion_tokens)  # stopped traces' real tokens
    assert r.completion_tokens[4] == 9  # chunked: the whole chunk it generated before the check


def test_a_warm_up_as_large_as_the_budget_is_the_whole_run():
    text = "\\boxed{7}"
    gen = Streams({"p": [_stream(text, [HIGH] * len(text)), _stream(text, [LOW] * len(text))]})
    o = DeepConfOnline.Options(name="deepconf_online", warmup=4, keep=0.5, window=3, top_k=2,
                               consensus=0.99, batch=4, chunk=100)  # fmt: skip
    gen.streams["p"] = gen.streams["p"] * 2
    (r,) = DeepConfOnline(o).search([Problem(0, "p", "p", "7")], _ctx(gen, 2))
    assert len(r.completions) == 2
