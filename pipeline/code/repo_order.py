"""Files of one repository ordered dependencies first: DeepSeek-Coder's Algorithm 1 (Guo et al. 2024, §2.2).

Per connected part of the dependency graph, repeatedly take the file with the fewest
dependencies not yet placed. With no cycle this is a topological order; inside a cycle the
file with the fewest open dependencies goes first, ties broken by path, so the order is
deterministic and does not depend on the order files arrive in. Parts follow each other by
their smallest path.
"""

from __future__ import annotations

import heapq
from collections import defaultdict


def dependency_order(paths: list[str], deps: dict[str, set[str]]) -> list[list[str]]:
    """Connected parts of the graph, each ordered dependencies first (DeepSeek-Coder's Algorithm 1)."""
    parent = {p: p for p in paths}

    def root(p: str) -> str:
        while parent[p] != p:
            parent[p] = p = parent[parent[p]]
        return p

    dependents: dict[str, list[str]] = defaultdict(list)
    for p in paths:
        for d in deps.get(p, ()):
            dependents[d].append(p)
            parent[root(p)] = root(d)
    parts: dict[str, list[str]] = defaultdict(list)
    for p in sorted(paths):
        parts[root(p)].append(p)
    open_deps = {p: len(deps.get(p, ())) for p in paths}
    ordered = []
    for members in sorted(parts.values()):
        heap = [(open_deps[p], p) for p in members]
        heapq.heapify(heap)
        done: list[str] = []
        placed: set[str] = set()
        while heap:
            count, p = heapq.heappop(heap)
            if p in placed or count != open_deps[p]:
                continue  # stale entry: its count has dropped since
            placed.add(p)
            done.append(p)
            for q in dependents[p]:
                if q not in placed:
                    open_deps[q] -= 1
                    heapq.heappush(heap, (open_deps[q], q))
        ordered.append(done)
    return ordered
