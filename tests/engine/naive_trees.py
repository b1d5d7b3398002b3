"""Slow, obvious twins of the tree kernels (Half-Space Trees, Random Cut Forest).

Plain-Python object trees, written from the papers' pseudo-code rather than
from the kernels, fed the same random numbers as the kernels so results can be
compared exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

# ---------------------------------------------------------------- Half-Space Trees


@dataclass
class HSNode:
    depth: int
    feature: int = -1
    split: float = 0.0
    left: HSNode | None = None
    right: HSNode | None = None
    latest: int = 0
    reference: int = 0


def build_half_space_tree(
    limits: list[list[float]], depth: int, height: int, draws: Iterator[float]
) -> HSNode:
    """Recursive builder: feature by width-weighted draw, split in the padded range."""
    node = HSNode(depth=depth)
    if depth == height:
        return node
    widths = [hi - lo for lo, hi in limits]
    target = next(draws) * sum(widths)
    running = 0.0
    node.feature = len(widths) - 1
    for j, w in enumerate(widths[:-1]):
        running += w
        if running > target:
            node.feature = j
            break
    lo, hi = limits[node.feature]
    low, high = lo + 0.15 * (hi - lo), hi - 0.15 * (hi - lo)
    node.split = low + (high - low) * next(draws)
    saved = list(limits[node.feature])
    limits[node.feature] = [lo, node.split]
    node.left = build_half_space_tree(limits, depth + 1, height, draws)
    limits[node.feature] = [node.split, hi]
    node.right = build_half_space_tree(limits, depth + 1, height, draws)
    limits[node.feature] = saved
    return node


def half_space_path(root: HSNode, x: np.ndarray) -> list[HSNode]:
    path = [root]
    while path[-1].left is not None:
        node = path[-1]
        path.append(node.left if x[node.feature] < node.split else node.right)
    return path


def all_nodes(root: HSNode) -> list[HSNode]:
    if root.left is None:
        return [root]
    return [root, *all_nodes(root.left), *all_nodes(root.right)]


class NaiveHalfSpaceTrees:
    """Half-Space Trees after Tan et al. (2011), Algorithms 1-3, with River's score."""

    def __init__(self, limits: np.ndarray, draws: np.ndarray, height: int, window: int):
        self.height = height
        self.window = window
        self.trees = []
        for tree_draws in draws:
            it = iter(tree_draws.ravel().tolist())
            self.trees.append(build_half_space_tree(limits.T.tolist(), 0, height, it))
        self.seen = 0

    def score(self, x: np.ndarray) -> float:
        if self.seen < self.window:
            return 0.0
        total = 0.0
        for root in self.trees:
            for node in half_space_path(root, x):
                total += node.reference * 2**node.depth
                if node.reference < 0.1 * self.window and node.depth < self.height:
                    break
        full = len(self.trees) * self.window * (2 ** (self.height + 1) - 1)
        return 1.0 - total / full

    def learn(self, x: np.ndarray) -> None:
        for root in self.trees:
            for node in half_space_path(root, x):
                node.latest += 1
        self.seen += 1
        if self.seen % self.window == 0:
            for root in self.trees:
                for node in all_nodes(root):
                    node.reference, node.latest = node.latest, 0

    def explain(self, x: np.ndarray) -> np.ndarray:
        """Charge each level's missing mass to the splits above it (see the kernel)."""
        d = len(x)
        out = np.zeros(d)
        if self.seen < self.window:
            return out
        residual = 0.0
        for root in self.trees:
            path = half_space_path(root, x)
            stop = next(
                (n.depth for n in path[:-1] if n.reference < 0.1 * self.window), self.height
            )
            mass = [n.reference for n in path[: stop + 1]]
            drops = [mass[j] - mass[j + 1] for j in range(stop)]
            for level in range(self.height + 1):
                if level <= stop:
                    missing = self.window - mass[level]
                    charges = drops[:level]
                else:  # never visited: the whole window is missing at this level
                    missing = self.window
                    total = sum(drops)
                    charges = [drop * self.window / total for drop in drops] if total else []
                for j, charge in enumerate(charges):
                    out[path[j].feature] += charge * 2**level
                residual += (missing - sum(charges)) * 2**level
        out += residual / d
        return out / (len(self.trees) * self.window * (2 ** (self.height + 1) - 1))
