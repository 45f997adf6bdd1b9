"""Keep secrets (API keys, Hub tokens) out of everything a run writes or prints.

Three layers:

- at the door: a secret given on the command line (``model.api_key=...``, or a URL with a
  password) is moved into an environment variable before Hydra sees it, and the override
  becomes ``${oc.env:TTSCALE_SECRET_...}`` (:func:`secrets_to_env`). Configs, Hydra's files,
  sweep files and submitit's pickles then hold only that reference; a task inherits the
  environment and resolves it when it validates its config;
- by key: a config value under a secret-looking key (``model.api_key``, ``hf_token``, ...)
  becomes ``***`` in config dumps, wandb and the JSON summary, and so does the password of a
  URL (``http://user:***@host``);
- by value: the secret strings themselves, collected from the config, the command line and
  the environment (``OPENAI_API_KEY``, ``HF_TOKEN``, ...), are scrubbed from free text:
  Hydra's saved overrides, log records, error messages and ``sys.argv`` (which wandb
  records as the run's command line).

Nothing here keeps a secret value in an object that could be pickled (a Hydra callback is
pickled into every submitit job).

:class:`RedactedHydraOutput` is the Hydra callback (``conf/config.yaml``) that writes the
``.hydra/`` folder redacted instead of Hydra, so the key never lands on disk.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

MASK = "***"
# Secret values shorter than this are not scrubbed from free text: they would match by chance.
MIN_SECRET_LEN = 8
_SECRET_WORDS = {"secret", "password", "passwd", "apikey", "credentials"}
# "*_token" names a credential (HF_TOKEN, GITHUB_TOKEN, hub_token) except these vocabulary
# strings of a tokenizer or PRM (prm.good_token = "+").
_VOCAB_TOKENS = {
    "good_token",
    "bad_token",
    "pad_token",
    "eos_token",
    "bos_token",
    "unk_token",
    "sep_token",
    "cls_token",
    "mask_token",
    "step_token",
}


def is_secret_key(key: str) -> bool:
    """Whether a (dotted) config key or an environment variable name holds a secret.

    ``model.api_key``, ``OPENAI_API_KEY``, ``HF_TOKEN`` are; ``max_tokens`` and
    ``prm.good_token`` (a vocabulary string) are not.
    """
    name = re.split(r"[.\[\]/]", key.strip().lower().lstrip("+~"))[-1] or key.lower()
    words = set(re.split(r"[^a-z0-9]+", name))
    is_token = name == "token" or (name.endswith("_token") and name not in _VOCAB_TOKENS)
    return "api_key" in name or is_token or bool(words & _SECRET_WORDS)


# scheme://user:PASSWORD@host: the password is a secret wherever the URL appears
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:)([^@/\s]+)@")


def url_passwords(text: str) -> list[str]:
    """The passwords of the URLs in ``text`` (``http://u:pw@h`` -> ``["pw"]``)."""
    return [m.group(2) for m in _URL_PASSWORD.finditer(text)]


# Secret-shaped values wherever they are: Hub tokens, OpenAI keys, 40-hex-digit tokens.
SECRET_SHAPE = re.compile(r"\b(?:hf_[A-Za-z0-9]{16,}|sk-[A-Za-z0-9_-]{16,}|[0-9a-f]{40})\b")


def hide(text: str, values: Iterable[str]) -> str:
    """``text`` with the given secret values and any secret-shaped token as ``***``."""
    return SECRET_SHAPE.sub(MASK, scrub(text, values))


def redact(obj: Any, key: str = "", values: Iterable[str] | None = None) -> Any:
    """A copy of nested dicts/lists with secret values (by key) replaced by ``***``: the
    one redaction of structured data (config dumps, summaries, wandb, printed commands).

    Strings of the form ``key=value`` (Hydra overrides) are redacted by their key, and the
    password of any URL (``http://user:pw@host``) by its place. With ``values`` (known
    secrets), every string is also scrubbed of them and of secret-shaped tokens, so a key
    pasted into another field is caught too.
    """
    if isinstance(obj, Mapping):
        return {k: redact(v, f"{key}.{k}" if key else str(k), values) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact(v, key, values) for v in obj]
    if values is not None and isinstance(obj, str) and not (key and is_secret_key(key)):
        obj = hide(obj, values)
    if obj not in (None, "") and key and is_secret_key(key):
        return MASK
    if isinstance(obj, str) and "=" in obj:
        name, _, value = obj.partition("=")
        if value and is_secret_key(name):
            return f"{name}={MASK}"
    if isinstance(obj, str):
        return _URL_PASSWORD.sub(rf"\1{MASK}@", obj)
    return obj


def public_config(run: Any) -> dict[str, Any]:
    """A run's config as written beside results and merges: secret values replaced."""
    return redact(run.model_dump())


def secret_values(
    data: Any = None,
    overrides: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
) -> set[str]:
    """The secret strings to scrub: values under secret keys in ``data``, in ``key=value``
    overrides, and in secret-named environment variables."""
    found: set[str] = set()

    def walk(obj: Any, key: str) -> None:
        if isinstance(obj, Mapping):
            for k, v in obj.items():
                walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                walk(v, key)
        elif isinstance(obj, str):
            if is_secret_key(key):
                found.add(obj)
            found.update(url_passwords(obj))

    walk(data, "")
    for item in overrides:
        name, _, value = str(item).partition("=")
        if is_secret_key(name):
            found.add(value.strip("'\""))
        found.update(url_passwords(str(item)))
    for name, value in (os.environ if env is None else env).items():
        if is_secret_key(name):
            found.add(value)
        found.update(url_passwords(value))
    return {v for v in found if len(v) >= MIN_SECRET_LEN and not v.startswith("${")}


def scrub(text: str, values: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret value replaced by ``***``."""
    for value in sorted(values, key=len, reverse=True):  # longest first: no partial leftovers
        text = text.replace(value, MASK)
    return text


class ScrubFilter(logging.Filter):
    """A handler filter that scrubs secret values from every record it lets through."""

    def __init__(self, values: Iterable[str]) -> None:
        super().__init__()
        self.values = set(values)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.values:
            record.msg = scrub(record.getMessage(), self.values)
            record.args = None
            if record.exc_info and not record.exc_text:
                # the formatter uses this cached text instead of formatting the exception
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = scrub(record.exc_text, self.values)
        return True


class _ScrubbedStream:
    """A text stream that scrubs secret values from everything written to it."""

    def __init__(self, stream: Any, values: set[str]) -> None:
        self._stream = stream
        self.values = values

    def write(self, text: str) -> int:
        self._stream.write(scrub(text, self.values))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def protect_output(values: set[str]) -> None:
    """From now on, scrub ``values`` from stdout, stderr and every root log handler."""
    if not values:
        return
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, _ScrubbedStream):
            stream.values |= values
        else:
            setattr(sys, name, _ScrubbedStream(stream, set(values)))
    for handler in logging.getLogger().handlers:
        known = [f for f in handler.filters if isinstance(f, ScrubFilter)]
        if known:
            known[0].values |= values
        else:
            handler.addFilter(ScrubFilter(values))


ENV_PREFIX = "TTSCALE_SECRET_"


def secrets_to_env(argv: list[str], env: Any = None) -> list[str]:
    """Move each secret of the command line into the environment; return the new argv.

    ``model.api_key=sk-...`` (a secret key) and ``model.base_url=http://u:pw@h`` (a URL with
    a password) become ``model.api_key=${oc.env:TTSCALE_SECRET_MODEL_API_KEY}`` with the
    value in that variable. Hydra, its saved files and every pickled sweep job then see
    only the reference; the task resolves it from the environment it inherits (Slurm
    exports the submitting environment by default; submitit_local's processes inherit it).
    """
    env = os.environ if env is None else env
    out = []
    for arg in argv:
        name, sep, value = arg.partition("=")
        key = name.lstrip("+~")
        plain = value.strip("'\"")
        secret = sep and not arg.startswith("-") and "${" not in value
        if secret and (is_secret_key(key) or url_passwords(plain)) and plain:
            var = ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", key).upper()
            env[var] = plain
            arg = f"{name}=${{oc.env:{var}}}"
        out.append(arg)
    return out


def protect_cli() -> set[str]:
    """For run.py, before Hydra starts: move command-line secrets into the environment
    (:func:`secrets_to_env`) and scrub every secret from all output. Hydra's own errors echo
    the overrides verbatim (``Error executing job with overrides: [...]``)."""
    values = secret_values(overrides=sys.argv[1:])
    sys.argv[1:] = secrets_to_env(sys.argv[1:])
    protect_output(values)
    return values


def redact_multirun_yaml(path: Path, overrides: Iterable[str] = ()) -> None:
    """Rewrite a sweep's ``multirun.yaml`` with every secret (key, URL password) as ``***``."""
    from ttscale.files import atomic_write_bytes

    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8")
    clean = _URL_PASSWORD.sub(rf"\1{MASK}@", scrub(text, secret_values(overrides=overrides)))
    if clean != text:
        atomic_write_bytes(path, clean.encode("utf-8"))
