"""One registry per seam: a dict plus a decorator. Unknown names list the valid ones."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Names to factories. Entries may be lazy ``"module:attr"`` strings (heavy backends)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T] | str] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def deco(obj: Callable[..., T]) -> Callable[..., T]:
            self.add(name, obj)
            return obj

        return deco

    def add(self, name: str, obj: Callable[..., T] | str) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = obj

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> Callable[..., T]:
        if name not in self._entries:
            raise KeyError(f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}")
        obj = self._entries[name]
        if isinstance(obj, str):
            module, attr = obj.split(":")
            obj = getattr(importlib.import_module(module), attr)
            self._entries[name] = obj
        return obj

    def build(self, name: str, *args: Any, **kwargs: Any) -> T:
        return self.get(name)(*args, **kwargs)

    def from_config(self, name: str, cfg: Any, **kwargs: Any) -> T:
        """The one way a seam is built: ``get(name).from_config(cfg, **kwargs)``."""
        return self.get(name).from_config(cfg, **kwargs)

    def __contains__(self, name: str) -> bool:
        return name in self._entries
