"""The OpenAI-compatible backend against a scripted local HTTP server (a real socket).

Each prompt can be given a script of replies (500, 429, a hang, truncated JSON, two
choices, ...); unscripted requests get a well-formed completion. No model is loaded.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ttscale.backends.openai import OpenAIGenerator, ServerError
from ttscale.config import ConfigError, validate
from ttscale.prompts import chat_messages
from ttscale.types import ChatPrompt, SamplingParams

KEY = "sk-test-0123456789abcdef"


class ScriptedServer:
    """``/v1/completions`` and ``/v1/chat/completions`` that follow a per-prompt script.

    A script item is a dict: ``{"status": 500}``, ``{"hang": True}``, ``{"raw": b"..."}``
    (sent as the body), ``{"cut": True}`` (a body shorter than its Content-Length), or a
    choice ``{"text": ..., "finish_reason": ..., ...}`` (with optional ``usage``/``n``).
    """

    def __init__(self) -> None:
        self.scripts: dict[str, list[dict]] = defaultdict(list)
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.inflight = self.max_inflight = 0
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def count(self, key: str) -> int:
        return sum(1 for r in self.requests if _key(r) == key)

    def _reply(self, body: dict) -> dict:
        with self.lock:
            self.requests.append(body)
            script = self.scripts[_key(body)]
            return script.pop(0) if script else {}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.headers.append(dict(self.headers))
                with server.lock:
                    server.inflight += 1
                    server.max_inflight = max(server.max_inflight, server.inflight)
                try:
                    self._answer(server._reply(body), body)
                finally:
                    with server.lock:
                        server.inflight -= 1

            def _answer(self, item: dict, body: dict) -> None:
                if item.get("hang"):
                    server.release.wait(10)  # longer than any client timeout in these tests
                    return
                if "status" in item:
                    return self._send(item["status"], item.get("raw", b'{"error": "boom"}'))
                if "raw" in item:
                    return self._send(200, item["raw"])
                payload = json.dumps(_completion(item, body)).encode()
                if item.get("cut"):
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload[: len(payload) // 2])
                    self.close_connection = True
                    return
                self._send(200, payload)

            def _send(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _key(body: dict) -> str:
    if "prompt" in body:
        return body["prompt"]
    return body["messages"][-1]["content"]


def _completion(item: dict, body: dict) -> dict:
    """A reply like vLLM's: the echo of the request's seed makes samples distinguishable."""
    text = item.get("text", f"{_key(body)}|seed={body['seed']}|T={body['temperature']}")
    choice = {"index": 0, "finish_reason": item.get("finish_reason", "length")}
    choice |= {k: item[k] for k in ("stop_reason", "logprobs") if k in item}
    if "messages" in body:
        choice["message"] = {"role": "assistant", "content": text}
    else:
        choice["text"] = text
    usage = item.get("usage", {"completion_tokens": len(text) + 1, "prompt_tokens": 3})
    reply = {"object": "text_completion", "choices": [choice] * item.get("n", 1)}
    return reply | ({"usage": usage} if usage is not None else {})


@pytest.fixture
def server():
    s = ScriptedServer()
    yield s
    s.close()


def make(server: ScriptedServer, **kwargs) -> OpenAIGenerator:
    opts = {"model": "m", "timeout": 2.0, "max_retries": 2, "backoff": 0.01, "progress": False}
    return OpenAIGenerator(server.url, **(opts | kwargs))


def test_requests_and_replies_map_onto_the_generator_contract(server):
    server.scripts["a"] = [
        {"text": "step one\n\n", "finish_reason": "stop", "usage": {"completion_tokens": 4}},
        {"text": "done", "finish_reason": "stop"},  # no stop string in sight: EOS
    ]
    server.scripts["b"] = [{"text": "x" * 5, "finish_reason": "length"}]
    # One request in flight: the script pops replies in arrival order, and two concurrent
    # requests for "a" could arrive in either order.
    out = make(server, concurrency=1).generate(
        ["a", "b"],
        [
            SamplingParams(n=2, temperature=0.7, top_p=0.9, max_tokens=9, stop=("\n\n",), seed=7),
            SamplingParams(n=1, temperature=0.0, max_tokens=5, seed=1),
        ],
    )
    assert [len(o) for o in out] == [2, 1]
    first, second = out[0]
    assert (first.text, first.num_tokens, first.finish_reason) == ("step one\n\n", 4, "stop")
    assert (second.text, second.num_tokens, second.finish_reason) == ("done", 5, "eos")
    assert (out[1][0].text, out[1][0].finish_reason) == ("xxxxx", "length")
    sent = sorted(server.requests, key=lambda r: (r["prompt"], r["seed"]))
    a = [r for r in sent if r["prompt"] == "a"]
    assert {(r["temperature"], r["top_p"], r["max_tokens"], tuple(r["stop"])) for r in a} == {
        (0.7, 0.9, 9, ("\n\n",))
    }
    assert len({r["seed"] for r in a}) == 2  # one request per sample, each its own seed
    assert all("n" not in r and r["model"] == "m" for r in sent)
    assert "stop" not in next(r for r in sent if r["prompt"] == "b")


def test_seeds_reproduce_and_samples_differ(server):
    gen = make(server)
    p = SamplingParams(n=3, temperature=1.0, seed=42)
    once = [c.text for c in gen.generate(["q"], [p])[0]]
    again = [c.text for c in gen.generate(["q"], [p])[0]]
    assert once == again and len(set(once)) == 3


def test_vllm_style_stop_reason_puts_the_stop_string_back(server):
    server.scripts["a"] = [{"text": "7*3=21", "finish_reason": "stop", "stop_reason": "\n\n"}]
    (c,) = make(server).generate(["a"], [SamplingParams(stop=("\n\n",))])[0]
    assert (c.text, c.finish_reason) == ("7*3=21\n\n", "stop")


@pytest.mark.parametrize(
    "failure",
    [{"status": 500}, {"status": 503}, {"status": 429}, {"hang": True}, {"cut": True}],
    ids=["500", "503", "429", "timeout", "truncated"],
)
def test_transient_failures_are_retried_then_succeed(server, failure):
    server.scripts["a"] = [dict(failure), dict(failure), {"text": "ok", "finish_reason": "stop"}]
    gen = make(server, timeout=0.5)
    (c,) = gen.generate(["a"], [SamplingParams()])[0]
    assert c.text == "ok"
    assert server.count("a") == 3


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        ({"status": 500}, "HTTP 500"),
        ({"hang": True}, "no reply within 0.3 s (model.timeout)"),
        ({"raw": b'{"choices": [{"text": "7*3'}, "reply is not valid JSON"),
        ({"text": "two", "n": 2}, "expected 1 choice, got 2"),
        ({"raw": b'{"choices": [{"text": 5}]}'}, "the choice has no text"),
        ({"text": "x", "finish_reason": "content_filter"}, "unexpected finish_reason"),
        ({"text": "x", "usage": None}, "no usage.completion_tokens"),
    ],
    ids=["500", "timeout", "truncated-json", "two-choices", "no-text", "finish", "no-usage"],
)
def test_persistent_failure_names_the_request(server, failure, message):
    server.scripts["bad"] = [dict(failure) for _ in range(3)]
    gen = make(server, timeout=0.3)
    with pytest.raises(ServerError) as err:
        gen.generate(["good", "bad"], [SamplingParams(), SamplingParams(n=1)])
    text = str(err.value)
    assert "POST " + server.url + "/v1/completions for prompt 1 (sample 0)" in text
    assert "after 3 attempts" in text and message in text
    assert server.count("bad") == 3  # max_retries=2: three attempts, no more


def test_client_errors_are_not_retried(server):
    server.scripts["a"] = [{"status": 400, "raw": b'{"detail": "Unexpected fields: foo"}'}]
    with pytest.raises(ServerError, match="failed: HTTP 400: .*Unexpected fields: foo"):
        make(server).generate(["a"], [SamplingParams()])
    assert server.count("a") == 1


def test_unreachable_server_fails_clearly():
    from ttscale.backends.serve import free_port

    gen = OpenAIGenerator(
        f"http://127.0.0.1:{free_port()}", model="m", max_retries=1, backoff=0.01, progress=False
    )
    with pytest.raises(
        ServerError, match=r"prompt 0 \(sample 0\) failed after 2 attempts: request failed: Connect"
    ):
        gen.generate(["a"], [SamplingParams()])


def test_concurrency_is_limited(server):
    out = make(server, concurrency=2).generate([f"p{i}" for i in range(8)], [SamplingParams()] * 8)
    assert len(out) == 8 and server.max_inflight <= 2


def test_api_key_is_sent_and_never_shown(server, monkeypatch):
    server.scripts["a"] = [{"status": 401, "raw": f'{{"error": "bad key {KEY}"}}'.encode()}]
    gen = make(server, api_key=KEY)
    assert KEY not in repr(gen) and "***" in repr(gen)
    with pytest.raises(ServerError) as err:
        gen.generate(["a"], [SamplingParams()])
    assert KEY not in str(err.value) and "bad key ***" in str(err.value)
    assert server.headers[-1]["Authorization"] == f"Bearer {KEY}"
    monkeypatch.setenv("OPENAI_API_KEY", KEY[::-1])
    make(server).generate(["b"], [SamplingParams()])
    assert server.headers[-1]["Authorization"] == f"Bearer {KEY[::-1]}"


def test_chat_mode_sends_the_conversation(server):
    gen = make(server, endpoint="chat")
    prompt = gen.render(chat_messages("Compute 5+6.", "Be brief."))
    assert isinstance(prompt, ChatPrompt)
    server.scripts["Compute 5+6."] = [{"text": "11", "finish_reason": "stop"}]
    (c,) = gen.generate([prompt], [SamplingParams()])[0]
    assert (c.text, c.finish_reason) == ("11", "eos")
    assert server.requests[-1]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Compute 5+6."},
    ]
    assert "chat_template_kwargs" not in server.requests[-1]
    thinking = gen.render(chat_messages("Compute 5+6.", None), enable_thinking=False)
    gen.generate([thinking], [SamplingParams()])
    assert server.requests[-1]["chat_template_kwargs"] == {"enable_thinking": False}
    # Step search appends to the prompt: a conversation cannot be continued, and a chat
    # endpoint refuses text to continue.
    with pytest.raises(TypeError):
        prompt + "7*3=21\n\n"
    with pytest.raises(
        ValueError, match="prompt 0: model.endpoint=chat .* model.endpoint=completions"
    ):
        gen.generate(["Compute 5+6.\n7*3=21\n\n"], [SamplingParams()])


def test_token_count_falls_back_to_the_tokenizer(server):
    class CharTokenizer:
        def __call__(self, text, add_special_tokens=False):
            return type("Enc", (), {"input_ids": list(text)})

    server.scripts["a"] = [{"text": "abc", "finish_reason": "stop", "usage": None}]
    (c,) = make(server, tokenizer=CharTokenizer()).generate(["a"], [SamplingParams()])[0]
    assert (c.num_tokens, c.finish_reason) == (4, "eos")  # 3 characters + the EOS


@pytest.mark.slow
def test_pipeline_reports_a_dead_server_clearly(server, make_cfg, policy_path):
    """A server that always fails ends the run with the request named, not a hang."""
    from ttscale.run.pipeline import main

    server.scripts.default_factory = lambda: [{"status": 500}] * 10  # every prompt fails
    cfg = make_cfg(
        "model=toy-openai",
        "model.serve=false",
        f"model.base_url={server.url}",
        "model.max_retries=1",
        "model.retry_backoff=0.01",
        f"model.api_key={KEY}",
        "approach=majority",
        "prm=none",
        "n=2",
        "dataset.num_samples=2",
    )
    with pytest.raises(
        ServerError, match=r"/v1/completions for prompt \d \(sample \d\) failed"
    ) as e:
        main(cfg)
    assert "after 2 attempts: HTTP 500" in str(e.value) and KEY not in str(e.value)


def test_config_rules(make_cfg):
    with pytest.raises(ConfigError, match="model: .*exactly one of model.base_url, model.serve"):
        validate(make_cfg("model=toy-openai", "model.serve=false"))
    with pytest.raises(ConfigError, match="model.base_url must start with http"):
        validate(make_cfg("model=toy-openai", "model.serve=false", "model.base_url=localhost:1"))
    with pytest.raises(ConfigError, match="model.endpoint: chat .*approach=beam_search"):
        validate(make_cfg("model=toy-openai", "model.endpoint=chat", "approach=beam_search"))
    run = validate(make_cfg("model=toy-openai", "model.endpoint=chat", "approach=majority"))
    assert run.model.endpoint == "chat"
    with pytest.raises(ConfigError, match="model.timeout"):
        validate(make_cfg("model=toy-openai", "model.timeout=0"))


def test_works_inside_a_running_event_loop(server):
    """A notebook runs an event loop: generate() must still work from inside it."""
    import asyncio

    async def call():
        return make(server).generate(["a"], [SamplingParams(n=2)])

    out = asyncio.run(call())
    assert len(out[0]) == 2


def test_credentials_in_the_url_are_masked_in_errors(server):
    url = server.url.replace("http://", "http://user:hunter2-password@")
    server.scripts["a"] = [{"status": 400}]
    gen = OpenAIGenerator(url, model="m", max_retries=0, progress=False)
    assert "hunter2" not in repr(gen)
    with pytest.raises(ServerError) as err:
        gen.generate(["a"], [SamplingParams()])
    assert "hunter2" not in str(err.value) and "***@127.0.0.1" in str(err.value)


@pytest.mark.slow
def test_run_py_exits_3_with_one_clear_line_for_a_dead_server(server, tmp_path):
    """Through the CLI: the failed request is named on stderr, no traceback, exit code 3."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    server.scripts.default_factory = lambda: [{"status": 503}] * 10
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "run.py"),
            "model=toy-openai",
            "model.serve=false",
            f"model.base_url={server.url}",
            "model.max_retries=1",
            "model.retry_backoff=0.01",
            "approach=majority",
            "prm=none",
            "n=2",
            "dataset.num_samples=1",
            f"paths.log_dir={tmp_path / 'logs'}",
            f"storage.results_dir={tmp_path / 'results'}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 3, proc.stderr
    assert "error: " in proc.stderr and "HTTP 503" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr


def test_a_server_that_keeps_failing_is_given_up_after_fail_after_seconds(server):
    # every request hangs; without the budget 6 requests x 50 attempts x 1 s would be minutes
    for k in "abcdef":
        server.scripts[k] = [{"hang": True}] * 60
    gen = make(server, timeout=1.0, max_retries=50, concurrency=2, fail_after=1.5)
    with pytest.raises(ServerError, match=r"failed for 1.5 s \(model.fail_after\): stopping"):
        gen.generate(list("abcdef"), [SamplingParams()] * 6)
    assert len(server.requests) < 20  # stopped long before the retries ran out


def test_a_good_reply_restarts_the_failure_clock(server):
    server.scripts["a"] = [{"status": 500}, {"status": 500}, {"text": "ok"}]
    gen = make(server, max_retries=5, fail_after=30)
    assert gen.generate(["a"], [SamplingParams()])[0][0].text == "ok"
    assert gen._failing_since is None


def test_impossible_usage_counts_are_recounted_with_the_tokenizer(server, caplog):
    class CharTokenizer:
        def __call__(self, text, add_special_tokens=False):
            return type("Enc", (), {"input_ids": list(text)})

    server.scripts["a"] = [
        {"text": "", "finish_reason": "stop", "usage": {"completion_tokens": 999999}},
        {"text": "abc", "finish_reason": "length", "usage": {"completion_tokens": 3}},
    ]
    gen = make(server, tokenizer=CharTokenizer(), concurrency=1)
    out = gen.generate(["a"], [SamplingParams(n=2, max_tokens=8)])[0]
    assert [c.num_tokens for c in out] == [1, 3]  # the EOS alone; a plausible count kept
    assert "claims 999999 completion tokens" in caplog.text


def test_logprobs_are_asked_for_and_read_on_both_endpoints(server):
    server.scripts["a"] = [{"text": "xy", "logprobs": {"token_logprobs": [-0.5, -1.25]}}]
    (c,) = make(server).generate(["a"], [SamplingParams(logprobs=True)])[0]
    assert c.logprobs == (-0.5, -1.25) and server.requests[-1]["logprobs"] == 0
    server.scripts["b"] = [
        {"text": "z", "logprobs": {"content": [{"token": "z", "logprob": -2.0}]}}
    ]
    gen = make(server, endpoint="chat")
    (c,) = gen.generate(
        [ChatPrompt(({"role": "user", "content": "b"},))], [SamplingParams(logprobs=True)]
    )[0]
    assert c.logprobs == (-2.0,) and server.requests[-1]["logprobs"] is True
    server.scripts["c"] = [{"text": "q"}]  # not asked: not sent, not read
    (c,) = make(server).generate(["c"], [SamplingParams()])[0]
    assert c.logprobs is None and "logprobs" not in server.requests[-1]


def test_top_logprobs_are_asked_for_and_read_on_both_endpoints(server):
    top = [{"x": -0.1, "y": -3.0, "z": -2.0}, {"y": -0.2, "q": -1.7, "x": -4.0}]
    lps = {"token_logprobs": [-0.1, -0.2], "top_logprobs": top}
    server.scripts["a"] = [{"text": "xy", "logprobs": lps}]
    (c,) = make(server).generate(["a"], [SamplingParams(top_logprobs=2)])[0]
    assert server.requests[-1]["logprobs"] == 2
    assert c.top_logprobs == ((-0.1, -2.0), (-0.2, -1.7)) and c.logprobs == (-0.1, -0.2)
    content = [{"token": "z", "logprob": -2.0,
                "top_logprobs": [{"token": "w", "logprob": -0.5}, {"token": "z", "logprob": -2.0}]}]  # fmt: skip
    server.scripts["b"] = [{"text": "z", "logprobs": {"content": content}}]
    gen = make(server, endpoint="chat")
    (c,) = gen.generate(
        [ChatPrompt(({"role": "user", "content": "b"},))], [SamplingParams(top_logprobs=2)]
    )[0]
    assert server.requests[-1]["logprobs"] is True and server.requests[-1]["top_logprobs"] == 2
    assert c.top_logprobs == ((-0.5, -2.0),) and c.logprobs == (-2.0,)


def test_a_reply_without_the_logprobs_asked_for_fails_clearly(server):
    # No field at all: the server ignores it (transformers serve), so asking again is useless.
    server.scripts["a"] = [{"text": "xy"}] * 3
    with pytest.raises(ServerError, match="does not return log-probabilities.*backend=hf"):
        make(server).generate(["a"], [SamplingParams(logprobs=True)])
    assert len(server.requests) == 1
    # A malformed field is a bad reply like any other: retried, then reported.
    server.scripts["b"] = [{"text": "xy", "logprobs": {"tokens": ["x"]}}] * 3
    with pytest.raises(ServerError, match="logprobs were asked for but the reply has none"):
        make(server).generate(["b"], [SamplingParams(logprobs=True)])
    assert len(server.requests) > 2


def test_prompt_tokens_computed_and_cached_come_from_usage(server):
    usage = {"completion_tokens": 2, "prompt_tokens": 40,
             "prompt_tokens_details": {"cached_tokens": 32}}  # fmt: skip
    server.scripts["a"] = [
        {"text": "xy", "usage": usage},
        {"text": "z", "usage": {"completion_tokens": 1}},
    ]
    first, second = make(server, concurrency=1).generate(["a"], [SamplingParams(n=2)])[0]
    assert (first.prompt_tokens, first.cached_tokens) == (8, 32)
    assert (second.prompt_tokens, second.cached_tokens) == (0, 0)  # not reported: not counted
