"""OpenAI-compatible backend (``model.backend=openai``): vLLM serve, SGLang, LiteLLM, and
``transformers serve``.

- ``model.endpoint=completions`` (default) sends ``/v1/completions``: the prompt is continued
  as plain text, so step-level search (beam search, DVTS, backtracking) works. The chat
  template is applied here, with the tokenizer of ``model.tokenizer`` (default
  ``model.path``), exactly as the in-process backend does.
- ``model.endpoint=chat`` sends ``/v1/chat/completions`` with the conversation, and the server
  applies its own template: whole solutions only (best_of_n, majority, two_stage_voting).

One HTTP request per sample, always: ``transformers serve`` ignores ``n``, and per-sample
requests keep the Generator contract that sample j of a request is seeded by
``derive_seed(seed, j)``, whatever the server. Requests run concurrently (``model.concurrency``),
each bounded by ``model.timeout`` and retried with exponential backoff and jitter on 429,
5xx, timeouts, connection errors and malformed replies (``model.max_retries``); then
:class:`ServerError` names the endpoint, the prompt and the sample. Nothing waits forever.

The API key (``model.api_key``, else ``OPENAI_API_KEY``) is only ever put in the
``Authorization`` header: it is not in ``repr``, errors or logs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ttscale import retry
from ttscale.backends import params_per_prompt, request_seed
from ttscale.backends.http_utils import excerpt, run_sync, safe_url
from ttscale.backends.openai_reply import (
    BadReply,
    NoLogprobs,
    finish_of,
    load_tokenizer,
    logprob_fields,
    prompt_usage,
    read_logprobs,
    served_model,
)
from ttscale.prompts import render_chat
from ttscale.types import ChatPrompt, Completion, FinishReason, Prompt, SamplingParams, derive_seed

log = logging.getLogger("ttscale")
MAX_BACKOFF = 30.0  # seconds: a long Retry-After or a deep retry still ends


class ServerError(RuntimeError):
    """A request to the server failed for good (after retries, or a non-retryable reply)."""


@dataclass(frozen=True)
class _Request:
    prompt: int  # index of the prompt in the generate call
    sample: int  # j: which of the prompt's n samples
    body: dict[str, Any]
    stop: tuple[str, ...]


class OpenAIGenerator:
    """Sample through an OpenAI-compatible HTTP server.

    Args:
        base_url: the server's root, e.g. ``http://127.0.0.1:8000`` (``/v1`` is added).
        model: the request's ``model`` field (the name the server serves).
        api_key: sent as a bearer token; ``OPENAI_API_KEY`` when None.
        endpoint: "completions" (prompt continuation) or "chat" (whole conversations).
        tokenizer: a loaded tokenizer: its chat template builds completion prompts and it
            counts tokens when a reply has no ``usage``.
        concurrency: requests in flight at most.
        timeout: seconds one attempt may take, reply included.
        max_retries: further attempts after a retryable failure.
        backoff: first retry delay in seconds; doubled each retry, with jitter (ttscale.retry).
        fail_after: wall-clock seconds the server may keep failing, counted across all
            requests from the first failure since the last good reply; then the call stops
            with a :class:`ServerError` and the requests in flight are cancelled.
        extra_body: server-specific request fields (e.g. vLLM's ``add_special_tokens``).
        seed: seeds requests that carry no seed of their own.
        progress: a progress bar over requests.
        server: an owned server process, stopped by :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        endpoint: str = "completions",
        tokenizer: Any = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        fail_after: float = 300.0,
        extra_body: dict[str, Any] | None = None,
        seed: int = 0,
        progress: bool = True,
        server: Any = None,
    ) -> None:
        if endpoint not in ("completions", "chat"):
            raise ValueError(f"endpoint must be 'completions' or 'chat', got {endpoint!r}")
        self.base_url = base_url.rstrip("/").removesuffix("/v1")
        self.model = model
        self.endpoint = endpoint
        self.path = "/v1/completions" if endpoint == "completions" else "/v1/chat/completions"
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.fail_after = fail_after
        self._failing_since: float | None = None  # monotonic time of the first failure
        self.extra_body = dict(extra_body or {})
        self.progress = progress
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
        # What the pipeline's prompt builder reads.
        self.tokenizer = tokenizer  # renders completion prompts; counts tokens without usage
        self._rng = random.Random(seed)
        self._server = server
        # httpx logs every request at INFO: thousands of lines per shard under Hydra's logging.
        logging.getLogger("httpx").setLevel(logging.WARNING)

    @classmethod
    def from_config(cls, model: Any, *, seed: int = 0, progress: bool = True) -> OpenAIGenerator:
        """Build from a :class:`ttscale.config.ModelConfig`; start ``transformers serve``
        for ``model.path`` first when ``model.serve`` is set (stopped by :meth:`close`)."""
        tokenizer = load_tokenizer(model)
        server, base_url = None, model.base_url
        if model.serve:
            from ttscale.backends.serve import TransformersServer

            cpu = model.device == "cpu"
            server = TransformersServer(
                model.path,
                device=model.device,
                # As the in-process backend: fp32 on CPU, so both give the same greedy text.
                dtype="float32" if cpu and model.dtype == "auto" else model.dtype,
                # The server decodes one request at a time; on CPU one thread beats
                # torch's default by far (bench/serve_threads.py, BENCHMARKS.md).
                threads=1 if cpu else None,
            )
            base_url = server.start()
        name = model.served_name
        if name is None and not model.serve:  # a server started by hand: ask what it serves
            name = served_model(base_url, model.api_key, model.timeout)
        try:
            return cls(
                base_url,
                model=name or model.path,
                api_key=model.api_key,
                endpoint=model.endpoint,
                tokenizer=tokenizer,
                concurrency=model.concurrency,
                timeout=model.timeout,
                max_retries=model.max_retries,
                backoff=model.retry_backoff,
                fail_after=model.fail_after,
                extra_body=model.extra_body,
                seed=seed,
                progress=progress,
                server=server,
            )
        except BaseException:
            if server is not None:
                server.stop()
            raise

    def __repr__(self) -> str:
        key = "***" if self._api_key else None
        return (
            f"OpenAIGenerator(base_url={safe_url(self.base_url)!r}, model={self.model!r}, "
            f"endpoint={self.endpoint!r}, api_key={key})"
        )

    def describe(self) -> dict[str, Any]:
        return {"backend": "openai", "endpoint": self.endpoint, "model": self.model,
                "server": "started by the run" if self._server else "given (model.base_url)"}  # fmt: skip

    def render(self, messages, **template_kwargs: Any) -> Prompt:
        """See :class:`ttscale.types.Generator`: chat mode sends the conversation itself
        (the server applies the template); completions mode renders it with the tokenizer."""
        if self.endpoint == "chat":
            return ChatPrompt(tuple(dict(m) for m in messages), dict(template_kwargs))
        return render_chat(self.tokenizer, messages, template_kwargs)

    def close(self) -> None:
        """Stop the server this generator started, if any (idempotent)."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def generate(
        self, prompts: Sequence[Prompt], params: Sequence[SamplingParams] | SamplingParams
    ) -> list[list[Completion]]:
        """See :class:`ttscale.types.Generator`."""
        params = params_per_prompt(prompts, params)
        requests = [
            _Request(i, j, self._body(i, prompt, p, seed), p.stop)
            for i, (prompt, p) in enumerate(zip(prompts, params))
            for j, seed in enumerate(self._seeds(p))
        ]
        done = run_sync(self._send_all(requests))
        out: list[list[Completion]] = [[] for _ in prompts]
        for r, c in zip(requests, done):
            out[r.prompt].append(c)
        return out

    def _seeds(self, p: SamplingParams) -> list[int]:
        base = request_seed(p, self._rng)
        # 31 bits: every server (and JSON in any language) takes it as a plain int.
        return [derive_seed(base, j) & 0x7FFFFFFF for j in range(p.n)]

    def _body(self, i: int, prompt: Prompt, p: SamplingParams, seed: int) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model}
        if self.endpoint == "completions" and isinstance(prompt, str):
            body["prompt"] = prompt
        elif self.endpoint == "chat" and isinstance(prompt, ChatPrompt):
            body["messages"] = list(prompt.messages)
            if prompt.template_kwargs:  # vLLM serve and transformers serve read this field
                body["chat_template_kwargs"] = prompt.template_kwargs
        elif self.endpoint == "chat":
            raise ValueError(
                f"prompt {i}: model.endpoint=chat sends whole conversations and cannot "
                "continue a partial solution; use model.endpoint=completions for step search"
            )
        else:
            raise TypeError(
                f"prompt {i}: model.endpoint=completions continues text, got {prompt!r}"
            )
        body |= {
            "max_tokens": p.max_tokens,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "seed": seed,
        }
        if p.stop:
            body["stop"] = list(p.stop)
        return body | logprob_fields(self.endpoint, p) | self.extra_body

    async def _send_all(self, requests: list[_Request]) -> list[Completion]:
        import httpx

        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        limits = httpx.Limits(max_connections=self.concurrency)
        bar = _progress(len(requests), self.progress and len(requests) > self.concurrency)
        sem = asyncio.Semaphore(self.concurrency)
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=self.timeout, limits=limits
        ) as client:

            async def one(r: _Request) -> Completion:
                c = await self._send(client, sem, r)
                bar.update(1)
                return c

            tasks = [asyncio.ensure_future(one(r)) for r in requests]
            try:
                return list(await asyncio.gather(*tasks))
            finally:
                for t in tasks:  # a failed request stops the others at once
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                bar.close()

    async def _send(self, client: Any, sem: asyncio.Semaphore, r: _Request) -> Completion:
        """One request with retries; a :class:`ServerError` naming it when it fails for good."""
        import httpx

        problem, header = "", None
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._check_budget(r, problem, attempt)
                wait = retry.delay(attempt, self.backoff, MAX_BACKOFF, header)
                await asyncio.sleep(min(wait, self._budget_left()))
                self._check_budget(r, problem, attempt)
            header = None
            async with sem:
                limit = min(self.timeout, max(self._budget_left(), 0.01))
                try:
                    resp = await asyncio.wait_for(client.post(self.path, json=r.body), limit)
                except (asyncio.TimeoutError, httpx.TimeoutException):
                    problem = f"no reply within {limit:.3g} s (model.timeout)"
                    self._failed()
                    continue
                except httpx.TransportError as err:
                    problem = f"request failed: {type(err).__name__}: {err}"
                    self._failed()
                    continue
            if resp.status_code >= 400:
                problem = f"HTTP {resp.status_code}: {excerpt(resp.text)}"
                if resp.status_code not in (408, 429) and resp.status_code < 500:
                    raise self._error(r, problem, attempt + 1)
                header = resp.headers.get("retry-after")
                self._failed()
                continue
            try:
                done = self._parse(resp.content, r)
            except NoLogprobs as err:
                raise self._error(r, str(err), attempt + 1) from None
            except BadReply as err:
                problem = str(err)
                self._failed()
                continue
            self._failing_since = None  # the server answers: its failure clock restarts
            return done
        raise self._error(r, problem, self.max_retries + 1)

    def _failed(self) -> None:
        if self._failing_since is None:
            self._failing_since = time.monotonic()

    def _budget_left(self) -> float:
        """Seconds until the server has been failing for ``fail_after`` (inf while it works)."""
        if self._failing_since is None:
            return float("inf")
        return self.fail_after - (time.monotonic() - self._failing_since)

    def _check_budget(self, r: _Request, problem: str, attempts: int) -> None:
        if self._budget_left() <= 0:
            raise self._error(
                r, f"{problem}; the server has failed for {self.fail_after:g} s "
                "(model.fail_after): stopping", attempts,
            )  # fmt: skip

    def _error(self, r: _Request, problem: str, attempts: int) -> ServerError:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        msg = (
            f"openai backend: POST {safe_url(self.base_url)}{self.path} for prompt {r.prompt} "
            f"(sample {r.sample}) failed{tries}: {problem}"
        )
        if self._api_key:
            msg = msg.replace(self._api_key, "***")
        return ServerError(msg)

    def _parse(self, content: bytes, r: _Request) -> Completion:
        """A reply's single choice as a :class:`Completion` (stop string kept)."""
        try:
            data = json.loads(content)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise BadReply(f"reply is not valid JSON ({err}): {excerpt(content)}") from None
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], dict):
            got = len(choices) if isinstance(choices, list) else "no"
            raise BadReply(f"expected 1 choice, got {got}: {excerpt(content)}")
        choice = choices[0]
        text = choice.get("text") if self.endpoint == "completions" else None
        if self.endpoint == "chat" and isinstance(choice.get("message"), dict):
            text = choice["message"].get("content") or ""
        if not isinstance(text, str):
            raise BadReply(f"the choice has no text: {excerpt(content)}")
        text, finish = finish_of(text, choice, r.stop)
        count = self._count(data, text, finish, r.body["max_tokens"])
        logprobs, top = read_logprobs(choice, r.body, self.endpoint)
        computed, cached = prompt_usage(data)
        return Completion(text, count, finish, logprobs, top, computed, cached)

    def _count(self, data: dict[str, Any], text: str, finish: FinishReason, max_tokens: int) -> int:
        usage = data.get("usage")
        tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
        if isinstance(tokens, int) and tokens >= 0:
            # One choice per request: the reply's usage is this sample's. A token is at
            # least one byte of text (the EOS aside), and no reply is longer than asked.
            if tokens <= min(max_tokens, len(text.encode()) + 1) or self.tokenizer is None:
                return tokens
            counted = len(self.tokenizer(text, add_special_tokens=False).input_ids)
            counted += finish == "eos"  # the EOS token is generated too
            log.warning(
                "openai backend: the reply claims %d completion tokens for %d characters "
                "(max_tokens %d); recounted with the tokenizer: %d",
                tokens, len(text), max_tokens, counted,
            )  # fmt: skip
            return counted
        if self.tokenizer is None:
            raise BadReply("reply has no usage.completion_tokens and no tokenizer to count")
        ids = self.tokenizer(text, add_special_tokens=False).input_ids
        return len(ids) + (finish == "eos")  # the EOS token is generated too


def _progress(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="requests", unit="req", disable=not enabled, leave=False)
