"""Deterministic clustering of a day's posts on their embeddings (numpy only).

k-means on unit vectors (cosine) with a deterministic farthest-point start; k is chosen by
silhouette among 2..4 (one cluster when there are few posts).  k-means puts every post in some
group, however little it shares with the rest; :func:`cohere` then lets a post that is not
close to the others of its group (:data:`MIN_COHESION`) stand alone, so a theme holds only
posts that belong together.  Same inputs, same clusters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FEW_POSTS = 3  # this many posts or fewer make one theme
# a theme member's cosine (MiniLM, title + summary) to the mean of the theme's other members.
# Over the LW dataset's posts, 70% of the pairs that share a specific tag ("AI Control",
# "Decision theory", ...) are at least this close, and 23% of the pairs that share none.
MIN_COHESION = 0.25


def normalize(x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        n = np.linalg.norm(a)
        return a / n if n > 0 else a
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: np.ndarray = a / norms
    return out


def kmeans(x: np.ndarray, k: int, iters: int = 50) -> np.ndarray:
    """Labels for the rows of ``x`` (unit vectors)."""
    n = len(x)
    mean = normalize(x.mean(axis=0))
    centers = [int(np.argmax(x @ mean))]
    while len(centers) < k:  # farthest point from the chosen centres
        sim = np.max(x @ x[centers].T, axis=1)
        sim[centers] = np.inf
        centers.append(int(np.argmin(sim)))
    c = x[centers].copy()
    labels = np.full(n, -1)
    for _ in range(iters):
        new = np.argmax(x @ c.T, axis=1)
        for j in range(k):  # keep every cluster non-empty
            if not np.any(new == j):
                own = (x @ c.T)[np.arange(n), new]
                cand = int(np.argmin(own))
                new[cand] = j
        if np.array_equal(new, labels):
            break
        labels = new
        c = np.stack([normalize(x[labels == j].mean(axis=0)) for j in range(k)])
    return labels


def silhouette(x: np.ndarray, labels: np.ndarray) -> float:
    dist = 1.0 - x @ x.T
    scores = []
    for i in range(len(x)):
        same = labels == labels[i]
        if same.sum() <= 1:
            scores.append(0.0)
            continue
        a = dist[i, same].sum() / (same.sum() - 1)
        b = min(dist[i, labels == j].mean() for j in set(labels.tolist()) if j != labels[i])
        scores.append((b - a) / max(a, b, 1e-9))
    return float(np.mean(scores))


def cohere(x: np.ndarray, groups: list[list[int]], min_sim: float = MIN_COHESION
           ) -> list[list[int]]:
    """``groups`` with the members that do not belong split off: while a group of two or more
    has a member whose cosine to the mean of the others is below ``min_sim``, the least close
    one leaves it and stands alone (a group of one)."""
    out: list[list[int]] = []
    for group in groups:
        g = list(group)
        while len(g) >= 2:
            sims = [float(x[i] @ normalize(x[[j for j in g if j != i]].mean(axis=0)))
                    for i in g]
            worst = int(np.argmin(sims))
            if sims[worst] >= min_sim:
                break
            out.append([g.pop(worst)])
        out.append(g)
    return out


def cluster(vectors: list[list[float]], max_themes: int = 4,
            priority: list[float] | None = None,
            min_sim: float = MIN_COHESION) -> list[list[int]]:
    """Groups of row indices, each of posts that belong together (see :func:`cohere`): k-means
    with 1 group for few posts, else 2..min(4, max_themes, n//2), then the posts that do not
    belong stand alone.  Groups of two or more come first, largest first, then by their first
    index; then the posts standing alone, highest ``priority`` first (default: in order)."""
    n = len(vectors)
    if n == 0:
        return []
    x = normalize(vectors)
    if priority is not None and len(priority) != n:
        raise ValueError(f"{len(priority)} priorities for {n} posts")
    rank = priority or [0.0] * n
    groups = cohere(x, _kmeans_groups(x, max_themes), min_sim)
    multi = sorted((g for g in groups if len(g) > 1), key=lambda g: (-len(g), g[0]))
    alone = sorted((g for g in groups if len(g) == 1), key=lambda g: (-rank[g[0]], g[0]))
    return multi + alone


def _kmeans_groups(x: np.ndarray, max_themes: int) -> list[list[int]]:
    n = len(x)
    top = min(4, max(1, max_themes), n // 2)
    if n <= FEW_POSTS or top < 2:
        return [list(range(n))]
    best: tuple[float, np.ndarray] | None = None
    for k in range(2, top + 1):
        labels = kmeans(x, k)
        score = silhouette(x, labels)
        if best is None or score > best[0] + 1e-9:
            best = (score, labels)
    assert best is not None
    labels = best[1]
    groups = [sorted(np.flatnonzero(labels == j).tolist()) for j in sorted(set(labels.tolist()))]
    return [g for g in groups if g]


def centroid(vectors: list[list[float]]) -> list[float]:
    return [round(float(v), 5) for v in normalize(normalize(vectors).mean(axis=0))]


def cosine(a: list[float], b: list[float]) -> float:
    if len(a) != len(b) or not a:
        return 0.0
    return float(normalize(a) @ normalize(b))
