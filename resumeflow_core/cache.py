"""A small bounded mapping for immutable things, such as a workflow version and its conversions."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

Key = TypeVar("Key")
Value = TypeVar("Value")


class BoundedCache(Generic[Key, Value]):
    """Keeps the `size` most recently used entries; only for values that never change."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[Key, Value] = OrderedDict()

    def get_or_create(self, key: Key, create: Callable[[], Value]) -> Value:
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        value = create()
        self.put(key, value)
        return value

    def get(self, key: Key) -> Value | None:
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        return None

    def put(self, key: Key, value: Value) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
