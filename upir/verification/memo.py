"""Small thread-safe memo tables shared by the verification modules."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int
    misses: int
    entries: int
    capacity: int
    evictions: int

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class LRU(Generic[K, V]):
    """A bounded least-recently-used map guarded by a lock; ``size`` 0 stores
    nothing."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError("cache size must be >= 0")
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = self._evictions = 0

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self._misses += 1
                return None
            self._data.move_to_end(key)
            self._hits += 1
            return value

    def put(self, key: K, value: V) -> None:
        if self.size == 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)
                self._evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._data), self.size, self._evictions)


class IdentityMemo(Generic[K, V]):
    """Values memoized by the *identity* of an immutable key object (hashing a
    specification or a property hashes its whole AST). Each entry keeps its key
    alive and is checked by ``is``, so a recycled ``id`` never matches."""

    def __init__(self, size: int) -> None:
        self._lru: LRU[int, tuple[K, V]] = LRU(size)

    def get(self, key: K) -> V | None:
        found = self._lru.get(id(key))
        if found is not None and found[0] is key:
            return found[1]
        return None

    def put(self, key: K, value: V) -> None:
        self._lru.put(id(key), (key, value))
