"""Analyzers by weights source, shared by the app's threads (``AnalyzerPool``)."""
from __future__ import annotations

import contextlib
import threading
from collections import Counter, OrderedDict
from concurrent.futures import Future
from typing import Iterator

from dfdemo.analyzer import Analyzer
from dfdemo.errors import WeightsError


class AnalyzerPool:
    """Analyzers by weights source, loaded on first use; the least recently used is closed when
    more than ``size`` are loaded, once the analyses using it have ended (the default weights,
    ``None``, are never evicted). An analyzer serves several threads (its locks are inside the
    library). The pool's lock only guards the pool: loading happens outside it, so an analysis
    on loaded weights never waits for another visitor's download. Visitors who ask for the same
    weights share one load; at most ``max_loads`` other weights load at once, and a request over
    that is refused at once with one line."""

    def __init__(self, size: int = 3, max_loads: int = 1):
        self.size = size
        self._lock = threading.Lock()
        self._loaded: OrderedDict[str | None, Analyzer] = OrderedDict()
        self._loading: dict[str | None, Future] = {}  # weights → the load in progress (its waiters share it)
        self._load_slots = threading.BoundedSemaphore(max(1, max_loads))  # loads of visitors' weights at once
        self._users: Counter[int] = Counter()  # id(analyzer) → analyses running on it
        self._evicted: dict[int, Analyzer] = {}

    def _take(self, weights: str | None) -> Analyzer:
        """The loaded analyzer for ``weights``, counted as in use; loaded here (outside the lock) if needed."""
        with self._lock:
            if weights in self._loaded:
                self._loaded.move_to_end(weights)
                analyzer = self._loaded[weights]
                self._users[id(analyzer)] += 1
                return analyzer
            pending, mine = self._loading.get(weights), False
            if pending is None:
                if weights is not None and not self._load_slots.acquire(blocking=False):
                    raise WeightsError("the server is loading other weights for another visitor; try again in a "
                                       "minute, or use the bundled weights")
                pending, mine = self._loading.setdefault(weights, Future()), True
        if mine:
            try:
                pending.set_result(Analyzer.load(weights))
            except BaseException as e:
                pending.set_exception(e)
            finally:
                self._add(weights, pending)
        pending.result()  # raises the load's error for every visitor who waited for it
        return self._take(weights)

    def _add(self, weights: str | None, done: Future) -> None:
        with self._lock:
            del self._loading[weights]
            if weights is not None:
                self._load_slots.release()
            if done.exception() is not None:
                return
            self._loaded[weights] = done.result()
            evictable = [k for k in self._loaded if k is not None]
            while len(self._loaded) > self.size and evictable:
                old = self._loaded.pop(evictable.pop(0))
                self._evicted[id(old)] = old
            self._close_unused()

    def _close_unused(self) -> None:
        """Close evicted analyzers no analysis uses any more (caller holds the lock)."""
        done = [a for k, a in self._evicted.items() if self._users[k] <= 0]
        for a in done:
            del self._evicted[id(a)], self._users[id(a)]
            a.close()

    def close(self) -> None:
        """Close every loaded analyzer (at shutdown)."""
        with self._lock:
            analyzers = [*self._loaded.values(), *self._evicted.values()]
            self._loaded.clear()
            self._evicted.clear()
        for a in analyzers:
            a.close()

    @contextlib.contextmanager
    def use(self, weights: str | None) -> Iterator[Analyzer]:
        analyzer = self._take(weights)
        try:
            yield analyzer
        finally:
            with self._lock:
                self._users[id(analyzer)] -= 1
                self._close_unused()
