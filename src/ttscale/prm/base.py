"""What every model-backed PRM shares: load, encode, batch, read scores at step ends.

A family (math-shepherd, RLHFlow, Skywork, Qwen) only says how one item becomes token ids
plus the positions whose output scores each step (:meth:`TokenPRM.encode`), and how a
forward pass becomes one score per position (:meth:`TokenPRM.read`). Batching, padding and
the one-score-per-step check live here, so they cannot differ between families.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ttscale.prefix_cache import PrefixCache, batch_past, common_length, past_keyword
from ttscale.prm import FromConfig
from ttscale.prompts import split_steps
from ttscale.types import PRMOutput

# A prefix several inputs of a call share is computed on its own first only if it saves at
# least this many tokens per sharer (a separate forward row costs more than a few tokens).
MIN_SHARED = 4
# reference: the model card's code; sal: byte for byte what search-and-learn feeds the PRM.
INPUT_FORMATS = ("reference", "sal")


@dataclass(frozen=True)
class Encoded:
    """One item as the PRM sees it: ``positions[k]`` is where step k's score is read;
    ``start`` is the answer's first token (where a family that reads spans begins)."""

    ids: list[int]
    positions: list[int]
    start: int = 0


class TokenPRM(FromConfig):
    """Base of the PRMs that run a transformers model over token ids.

    Args:
        model_path: folder or Hub id of the PRM.
        batch_size: items per forward pass, always honoured.
        device, dtype: "auto" picks cuda/bf16 when a GPU exists, else cpu/fp32.
        token_ids: optional pins such as ``{"step_tag": 12902}``: the id each configured token
            string must resolve to in this tokenizer (a guard against a silently wrong tag).
        dedupe: read each distinct input of a call once (default). False reads every item,
            as the anchors do; kept for ``bench/prm_dedupe.py``.
        prefix_cache_mb: keep the keys and values of inputs read, up to this many MiB, so a
            later input that extends one (the next step of a search) computes only its new
            tokens (:mod:`ttscale.prefix_cache`); 0 reads every input whole.
        **options: the family's token strings (``step_tag``, ``good_token``, ...).

    A family whose output at a position needs the position before it (a token's
    log-likelihood) sets ``reads_previous``: a cached prefix's last token is then read again
    with the new ones, so the first new token has its context.

    The tokenizer loads first and every token string is checked before any weights load, so
    a wrong ``prm.step_tag`` fails in seconds, naming the key.
    """

    reads_previous = False

    def __init__(
        self,
        model_path: str,
        *,
        batch_size: int = 8,
        device: str = "auto",
        dtype: str = "auto",
        token_ids: Mapping[str, int] | None = None,
        dedupe: bool = True,
        prefix_cache_mb: int = 0,
        **options: Any,
    ) -> None:
        self._prepare(model_path, batch_size, device, dtype, token_ids, options)
        self.dedupe = dedupe
        self.cache = PrefixCache(prefix_cache_mb << 20) if prefix_cache_mb else None
        self.model = self.load_model(model_path, self.dtype)
        self._past_kw = past_keyword(self.model)
        self.model.to(self.device).eval()
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id or 0

    @classmethod
    def check(
        cls,
        model_path: str,
        *,
        batch_size: int = 8,
        token_ids: Mapping[str, int] | None = None,
        device: str = "auto",
        dtype: str = "auto",
        prefix_cache_mb: int = 0,
        **options: Any,
    ) -> None:
        """Load only the tokenizer and run the token checks: fails as ``cls(...)`` would,
        without loading weights (for checks before a run starts)."""
        cls.__new__(cls)._prepare(model_path, batch_size, device, dtype, token_ids, options)

    def _prepare(
        self,
        model_path: str,
        batch_size: int,
        device: str,
        dtype: str,
        token_ids: Mapping[str, int] | None,
        options: dict[str, Any],
    ) -> None:
        """Everything before the weights: tokenizer, token ids, pins, device."""
        from transformers import AutoTokenizer

        if batch_size < 1:
            raise ValueError(f"prm.batch_size must be >= 1, got {batch_size}")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if dtype == "auto":
            dtype = "float32" if device == "cpu" else "bfloat16"
        if not isinstance(getattr(torch, dtype, None), torch.dtype):
            raise ValueError(f"prm.dtype: not a torch dtype name: {dtype!r} (e.g. bfloat16)")
        self.device = torch.device(device)
        self.dtype = getattr(torch, dtype)
        self.batch_size = batch_size
        self.input_format = options.pop("input_format", "reference")
        if self.input_format not in INPUT_FORMATS:
            raise ValueError(
                f"prm.input_format: must be one of {', '.join(INPUT_FORMATS)}, "
                f"got {self.input_format!r}"
            )
        from ttscale.loading import loading

        with loading("prm.path", model_path):
            self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self._pins = dict(token_ids or {})
        self._checked: set[str] = set()
        self.setup(**options)
        unused = sorted(set(self._pins) - self._checked)
        if unused:
            raise ValueError(
                f"prm.token_ids: {', '.join(unused)} not used by this PRM "
                f"(it looks up: {', '.join(sorted(self._checked)) or 'nothing'})"
            )

    # -- what a family defines -------------------------------------------------------------

    def steps_of(self, text: str) -> list[str]:
        """The steps of a completion that this PRM scores, one score each.

        ``reference`` (the model card's code): the non-empty blank-line-separated steps.
        ``sal``: the pieces search-and-learn makes of the raw text (:meth:`sal_steps`).
        """
        return split_steps(text) if self.input_format == "reference" else self.sal_steps(text)

    def sal_steps(self, text: str) -> list[str]:
        """The pieces search-and-learn scores in ``text`` (family-specific)."""
        raise NotImplementedError

    def setup(self, **options: Any) -> None:
        """Resolve the family's token strings to ids (use :meth:`token_id`)."""
        raise NotImplementedError

    def model_class(self) -> Any:
        """The class whose ``from_pretrained`` loads this family's weights."""
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM

    def load_model(self, model_path: str, dtype: torch.dtype) -> torch.nn.Module:
        """Load the weights (after :meth:`setup` succeeded); refuse any that would be new.

        Unloadable files, and a checkpoint without the family's head (its weights would be
        newly initialised: random scores), are a ``prm.path`` error naming the cause.
        """
        from ttscale.loading import check_loaded, loading

        with loading("prm.path", model_path):
            model, info = self.model_class().from_pretrained(
                model_path, dtype=dtype, output_loading_info=True
            )
        check_loaded("prm.path", model_path, info)
        return model

    def encode(self, question: str, steps: Sequence[str]) -> Encoded:
        """Token ids of one item and the position of each step's score."""
        raise NotImplementedError

    def read(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **forward: Any
    ) -> torch.Tensor:
        """One forward pass: a (batch, length) float tensor of per-position scores.

        ``forward`` (position ids and a cache of earlier tokens) goes to the model as is.
        """
        raise NotImplementedError

    def step_scores(self, values: torch.Tensor, item: Encoded) -> list[float]:
        """One item's step scores from its per-position outputs: those at its positions."""
        return values[item.positions].tolist()

    # -- shared machinery ------------------------------------------------------------------

    def reference_only(self, family: str) -> None:
        """Refuse ``input_format=sal`` for a family search-and-learn never had."""
        if self.input_format == "sal":
            raise ValueError(
                f"prm.input_format=sal: search-and-learn has no {family} PRM; "
                "use prm.input_format=reference"
            )

    def token_id(self, text: str, key: str) -> int:
        """The single token id of ``text`` (the value of ``prm.<key>``), or a clear error."""
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) != 1 or ids[0] == self.tokenizer.unk_token_id:
            raise ValueError(
                f"prm.{key}={text!r} is not a single token of this PRM's tokenizer "
                f"(encodes to {ids})"
            )
        self._checked.add(key)
        pinned = self._pins.get(key)
        if pinned is not None and pinned != ids[0]:
            raise ValueError(
                f"prm.{key}={text!r} is token {ids[0]} in this tokenizer, but prm.token_ids "
                f"pins it to {pinned}: wrong tokenizer or wrong token string"
            )
        return ids[0]

    @torch.inference_mode()
    def score(self, questions: Sequence[str], steps: Sequence[Sequence[str]]) -> PRMOutput:
        """One score per step of every item, in input order (see :class:`ttscale.types.PRM`)."""
        encoded = [self.encode(q, s) for q, s in zip(questions, steps, strict=True)]
        for i, (e, s) in enumerate(zip(encoded, steps)):
            if len(e.positions) != len(s):
                raise ValueError(f"PRM item {i}: {len(s)} steps but {len(e.positions)} step ends")
        scores: list[list[float]] = [[] for _ in encoded]
        # A search sends the same prefix many times in one call (a beam's copies, children
        # that sampled the same step): each distinct input runs once, and only that one is
        # charged its tokens, so num_tokens is what the PRM really processed.
        first: dict[tuple[int, ...], int] = {}
        source = [
            first.setdefault(tuple(e.ids) if self.dedupe else (i,), i)
            for i, e in enumerate(encoded)
        ]
        # Similar lengths together waste less padding; results go back to input order.
        order = sorted(first.values(), key=lambda i: len(encoded[i].ids))
        computed = [0] * len(encoded)
        cached = [0] * len(encoded)
        if self.cache is not None:  # prefixes several inputs share: computed once, up front
            rows = [encoded[i].ids for i in order]
            for i, extra in zip(order, self._read_shared(rows, [questions[i] for i in order])):
                computed[i] = extra
            # Batch by what is left to compute, not by length: less padding.
            order.sort(key=lambda i: len(encoded[i].ids) - self.cache.match(encoded[i].ids).length)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            if self.cache is None:
                values = self._read_whole([encoded[i].ids for i in rows])
                hits = [0] * len(rows)
            else:
                values, hits = self._read_cached([encoded[i].ids for i in rows])
            for r, i in enumerate(rows):
                scores[i] = self.step_scores(values[r], encoded[i])
                computed[i] += len(encoded[i].ids) - hits[r]
                cached[i] = max(0, len(encoded[i].ids) - computed[i])
        for i, j in enumerate(source):
            if i != j:  # positions depend only on the ids: the same scores
                scores[i] = list(scores[j])
        return PRMOutput(scores, computed, cached)

    def _read_whole(self, rows: list[list[int]]) -> list[torch.Tensor]:
        """Per-position scores of each row, read from scratch in one padded batch."""
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, row in enumerate(rows):
            # Right padding: a causal model's outputs at real positions ignore the padding,
            # and positions need no shifting.
            ids[r, : len(row)] = torch.tensor(row)
            mask[r, : len(row)] = 1
        values = self.read(ids.to(self.device), mask.to(self.device)).float().cpu()
        return [values[r, : len(row)] for r, row in enumerate(rows)]

    def _read_shared(self, rows: list[list[int]], questions: list[str]) -> list[int]:
        """Compute once, and cache, the prefixes that several ``rows`` of one question share
        past the cache (a search's siblings: the same parent, steps that start alike), so
        each row then computes only its own tail. Returns the tokens computed on each row's
        behalf: a shared prefix is charged to the first row that has it. Rows of different
        questions never share: a row's work then does not depend on the other problems."""
        assert self.cache is not None
        charge = [0] * len(rows)
        owner: dict[tuple[int, ...], int] = {}
        ranked = sorted(range(len(rows)), key=lambda r: (questions[r], rows[r]))
        for a, b in zip(ranked, ranked[1:]):
            if questions[a] != questions[b]:
                continue
            n = common_length(rows[a], rows[b])
            key = tuple(rows[a][:n])
            if n and self.cache.match(key).length <= n - MIN_SHARED:
                owner[key] = min(owner.get(key, a), a, b)
        while owner:  # shorter shared prefixes first, so longer ones build on them
            lengths = sorted({len(k) for k in owner})
            level = [k for k in owner if not any(k[:n] in owner for n in lengths if n < len(k))]
            for start in range(0, len(level), self.batch_size):
                chunk = level[start : start + self.batch_size]
                _, hits = self._read_cached([list(key) for key in chunk])
                for key, hit in zip(chunk, hits):
                    charge[owner[key]] += len(key) - hit
            for key in level:
                del owner[key]
        return charge

    def _read_cached(self, rows: list[list[int]]) -> tuple[list[torch.Tensor], list[int]]:
        """Per-position scores of each row, computing only what the prefix cache lacks; the
        rows read are cached in turn. Also each row's cached token count."""
        from transformers import DynamicCache

        assert self.cache is not None
        found = [self.cache.match(row) for row in rows]
        out: list[torch.Tensor] = [torch.empty(0)] * len(rows)
        todo = [r for r, h in enumerate(found) if h.length < len(rows[r])]
        for r, h in enumerate(found):
            if h.length == len(rows[r]):  # read before, whole: nothing to compute
                out[r] = self.cache.values(h).float().cpu()
        # The prefix's last token is read again where the first new one needs its output.
        again = [
            int(self.reads_previous and 0 < h.length < len(row)) for h, row in zip(found, rows)
        ]
        hits = [self.cache.match(row, h.length - a) if a else h
                for row, h, a in zip(rows, found, again)]  # fmt: skip
        if todo:
            lay = batch_past([hits[r] for r in todo],
                             [rows[r][hits[r].length :] for r in todo],
                             pad_id=self.pad_id, left=False, device=self.device)  # fmt: skip
            past = DynamicCache(lay.past) if lay.width else DynamicCache()
            values = self.read(lay.ids, lay.mask, position_ids=lay.positions,
                               use_cache=True, **{self._past_kw: past}).float()  # fmt: skip
            for k, r in enumerate(todo):
                hit, n = hits[r].length, len(rows[r]) - hits[r].length
                cols = slice(lay.width, lay.width + n)  # the row's new tokens; its prefix is cached
                kv = [(x.keys[k, :, cols], x.values[k, :, cols]) for x in past.layers]
                new = values[k, :n]
                self.cache.insert(rows[r], kv, new, offset=hit)  # the re-read token kept as was
                if hit:  # the re-read token's own output is the cached one (its context was cut)
                    new = torch.cat([self.cache.values(found[r]), new[again[r] :]])
                out[r] = new.cpu()
        return out, [h.length for h in hits]


def pair_probability(logits: torch.Tensor, good_id: int, bad_id: int) -> torch.Tensor:
    """P(good) from a softmax over just the good and bad tokens' logits, at every position."""
    return logits[..., [good_id, bad_id]].float().softmax(-1)[..., 0]
