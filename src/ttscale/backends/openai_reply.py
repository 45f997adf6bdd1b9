"""The OpenAI protocol's details: the log-prob fields of a request; a reply's finish reason,
log-probabilities, usage and served model; the client's tokenizer."""

from __future__ import annotations

import logging
import os
from typing import Any

from ttscale.backends.http_utils import excerpt
from ttscale.types import FinishReason

log = logging.getLogger("ttscale")


class BadReply(ValueError):
    """A reply that is not what the OpenAI API promises (retried, then a ServerError)."""


class NoLogprobs(BadReply):
    """A reply without the ``logprobs`` field asked for: the server ignores it (not retried)."""


def logprob_fields(endpoint: str, p: Any) -> dict[str, Any]:
    """Request fields for the sampled tokens' log-probabilities (+ the k best per token)."""
    if not (p.logprobs or p.top_logprobs):
        return {}
    k = p.top_logprobs
    if endpoint == "chat":
        return {"logprobs": True} | ({"top_logprobs": k} if k else {})
    return {"logprobs": k}


def read_logprobs(choice: dict[str, Any], body: dict[str, Any], endpoint: str):
    """(sampled log-probs, top log-probs) of a choice, each None when the body did not ask."""
    if "logprobs" not in body:
        return None, None
    k = body.get("top_logprobs") if endpoint == "chat" else body.get("logprobs")
    return logprobs_of(choice), (top_logprobs_of(choice, k) if k else None)


def logprobs_of(choice: dict[str, Any]) -> tuple[float, ...]:
    """The sampled tokens' log-probabilities of a choice: the completions endpoint's
    ``logprobs.token_logprobs`` or the chat endpoint's ``logprobs.content[i].logprob``."""
    lp = choice.get("logprobs")
    if isinstance(lp, dict) and isinstance(lp.get("token_logprobs"), list):
        values = lp["token_logprobs"]
    elif isinstance(lp, dict) and isinstance(lp.get("content"), list):
        values = [t.get("logprob") if isinstance(t, dict) else None for t in lp["content"]]
    elif lp is None:
        # transformers serve (5.x) drops the field silently; asking again cannot help.
        raise NoLogprobs(
            "logprobs were asked for but the reply has none: this server does not return "
            "log-probabilities (transformers serve ignores the field). A confidence scorer or "
            "approach=deepconf_online needs them: use model.backend=hf or vllm, "
            "or a server that returns them (vLLM serve, SGLang)"
        )
    else:
        raise BadReply(f"logprobs were asked for but the reply has none: {excerpt(str(lp))}")
    if not all(isinstance(v, (int, float)) for v in values):
        raise BadReply("the reply's logprobs are not all numbers")
    return tuple(float(v) for v in values)


def top_logprobs_of(choice: dict[str, Any], k: int) -> tuple[tuple[float, ...], ...]:
    """The k best log-probabilities per token, highest first: the completions endpoint's
    ``logprobs.top_logprobs[i]`` ({token: logprob}) or the chat endpoint's
    ``logprobs.content[i].top_logprobs`` ([{token, logprob}])."""
    lp = choice.get("logprobs")
    if isinstance(lp, dict) and isinstance(lp.get("top_logprobs"), list):
        steps = [list(t.values()) if isinstance(t, dict) else None for t in lp["top_logprobs"]]
    elif isinstance(lp, dict) and isinstance(lp.get("content"), list):
        steps = [
            [a.get("logprob") for a in t["top_logprobs"] if isinstance(a, dict)]
            if isinstance(t, dict) and isinstance(t.get("top_logprobs"), list)
            else None
            for t in lp["content"]
        ]
    else:
        raise BadReply(f"top logprobs were asked for but the reply has none: {excerpt(str(lp))}")
    if any(s is None or not all(isinstance(v, (int, float)) for v in s) for s in steps):
        raise BadReply("the reply's top logprobs are not lists of numbers")
    return tuple(tuple(sorted(map(float, s), reverse=True)[:k]) for s in steps)  # type: ignore[arg-type]


def prompt_usage(data: dict[str, Any]) -> tuple[int, int]:
    """(prompt tokens computed, prompt tokens from the server's cache) from ``usage``:
    ``prompt_tokens`` and ``prompt_tokens_details.cached_tokens``; (0, 0) when absent (a
    server that reports no usage: its prompt compute is not counted)."""
    usage = data.get("usage")
    total = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    if not isinstance(total, int) or total < 0:
        return 0, 0
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    cached = min(total, cached) if isinstance(cached, int) and cached >= 0 else 0
    return total - cached, cached


def finish_of(
    text: str, choice: dict[str, Any], stops: tuple[str, ...]
) -> tuple[str, FinishReason]:
    """Map OpenAI's finish_reason onto ours, with the stop string kept in the text.

    OpenAI says "stop" for both EOS and a stop string. ``transformers serve`` keeps the stop
    string; vLLM drops it but names it in ``stop_reason``, SGLang in ``matched_stop``. A
    "stop" with no stop string in sight is EOS.
    """
    reason = choice.get("finish_reason")
    if reason == "length":
        return text, "length"
    if reason not in ("stop", "eos"):
        raise BadReply(f"unexpected finish_reason {reason!r}")
    if any(s and text.endswith(s) for s in stops):
        return text, "stop"
    matched = choice.get("stop_reason", choice.get("matched_stop"))
    if isinstance(matched, str) and matched in stops:
        return text + matched, "stop"
    return text, "eos"


def served_model(base_url: str, api_key: str | None, timeout: float) -> str | None:
    """The one model a server lists at ``/v1/models``, or None (several, none, no answer).

    ``transformers serve models/x`` pins the model it was started with, by the name it was
    given, and refuses requests for any other: a relative path there and an absolute one in
    the config name the same folder but do not match.
    """
    import httpx

    key = api_key or os.environ.get("OPENAI_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = base_url.rstrip("/").removesuffix("/v1") + "/v1/models"
    try:
        reply = httpx.get(url, headers=headers, timeout=min(timeout, 10.0))
        models = [m["id"] for m in reply.json()["data"]] if reply.status_code == 200 else []
    except Exception:  # noqa: BLE001 - any failure: fall back to model.path
        return None
    return models[0] if len(models) == 1 else None


def load_tokenizer(model: Any) -> Any:
    """The tokenizer of ``model.tokenizer`` (default ``model.path``); required for completions."""
    source = model.tokenizer or model.path
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(source, trust_remote_code=model.trust_remote_code)
    except Exception as err:
        if model.endpoint == "chat":  # the server applies the template; usage counts tokens
            log.warning("no tokenizer from %r (%s); token counts come from usage", source, err)
            return None
        key = "model.tokenizer" if model.tokenizer else "model.path"
        raise ValueError(
            f"{key}: cannot load a tokenizer from {source!r} ({type(err).__name__}); "
            "model.endpoint=completions builds prompts with its chat template. Point "
            "model.tokenizer at a local copy, or use model.endpoint=chat"
        ) from None
