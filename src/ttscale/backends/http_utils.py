"""Small helpers for backends that talk HTTP: safe messages, sync over async."""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit


def excerpt(text: str | bytes, limit: int = 200) -> str:
    """A reply body on one line, cut to ``limit`` characters, for error messages."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def safe_url(url: str) -> str:
    """The URL without user:password, for messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def run_sync(coro: Any) -> Any:
    """Run a coroutine to completion, also when the caller already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as err:
            box["error"] = err

    thread = threading.Thread(target=target, name="ttscale-openai")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
