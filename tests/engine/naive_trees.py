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


# ------------------------------------------------------------- Random Cut Forest

MASK64 = (1 << 64) - 1


class SplitMix64:
    """The kernels' random source: SplitMix64 (Steele, Lea & Flood 2014), doubles in [0, 1)."""

    def __init__(self, state: int):
        self.state = int(state)

    def random(self) -> float:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        return (z >> 11) / 2.0**53

    def uniform(self, low: float, high: float) -> float:
        """numpy's ``RandomState.uniform`` formula, so rrcf can draw from it too."""
        return low + (high - low) * self.random()


@dataclass(eq=False)
class CutNode:
    """A leaf (``point`` set) or a branch (``dim``/``cut`` set) of a random cut tree."""

    count: int
    lo: np.ndarray
    hi: np.ndarray
    point: np.ndarray | None = None
    dim: int = -1
    cut: float = 0.0
    left: CutNode | None = None
    right: CutNode | None = None
    up: CutNode | None = None


class NaiveCutTree:
    """A robust random cut tree after Guha et al. (2016), §3, with plain objects."""

    def __init__(self, rng: SplitMix64):
        self.rng = rng
        self.root: CutNode | None = None
        self.leaf_of: dict[int, CutNode] = {}

    def _leaf_for(self, x: np.ndarray) -> CutNode:
        node = self.root
        while node.point is None:
            node = node.left if x[node.dim] <= node.cut else node.right
        return node

    def insert(self, key: int, x: np.ndarray) -> None:
        x = np.array(x, dtype=float)
        if self.root is None:
            self.root = self.leaf_of[key] = CutNode(1, x, x, point=x)
            return
        same = self._leaf_for(x)
        if np.array_equal(same.point, x):
            self.leaf_of[key] = same
            node = same
            while node is not None:
                node.count += 1
                node = node.up
            return
        node = self.root
        while True:
            if node.point is None and np.all(node.lo <= x) and np.all(x <= node.hi):
                node = node.left if x[node.dim] <= node.cut else node.right
                continue  # no cut can separate x from a box that holds it: no draw
            lo, hi = np.minimum(node.lo, x), np.maximum(node.hi, x)
            spans = [float(top - bottom) for bottom, top in zip(lo, hi, strict=True)]
            r = sum(spans) * self.rng.random()
            dim = next((j for j in range(len(spans)) if sum(spans[: j + 1]) >= r), len(spans) - 1)
            cut = float(lo[dim]) + sum(spans[: dim + 1]) - r
            if cut <= node.lo[dim] or cut >= node.hi[dim]:
                break
            node = node.left if x[node.dim] <= node.cut else node.right
        leaf = CutNode(1, x, x, point=x)
        branch = CutNode(node.count + 1, lo, hi, dim=dim, cut=cut, up=node.up)
        branch.left, branch.right = (leaf, node) if cut <= node.lo[dim] else (node, leaf)
        if node.up is None:
            self.root = branch
        elif node.up.left is node:
            node.up.left = branch
        else:
            node.up.right = branch
        node.up = leaf.up = branch
        above = branch.up
        while above is not None:
            above.count += 1
            above.lo, above.hi = np.minimum(above.lo, x), np.maximum(above.hi, x)
            above = above.up
        self.leaf_of[key] = leaf

    def forget(self, key: int) -> None:
        leaf = self.leaf_of.pop(key)
        if leaf.count > 1:
            node = leaf
            while node is not None:
                node.count -= 1
                node = node.up
            return
        if leaf is self.root:
            self.root = None
            return
        branch = leaf.up
        sibling = branch.right if branch.left is leaf else branch.left
        grand = branch.up
        sibling.up = grand
        if grand is None:
            self.root = sibling
            return
        if grand.left is branch:
            grand.left = sibling
        else:
            grand.right = sibling
        node = grand
        while node is not None:  # recompute counts and boxes from the children
            node.count = node.left.count + node.right.count
            node.lo = np.minimum(node.left.lo, node.right.lo)
            node.hi = np.maximum(node.left.hi, node.right.hi)
            node = node.up

    def codisp(self, key: int) -> tuple[float, int]:
        """Largest sibling/own count ratio over the ancestors, and that parent's cut dim."""
        node = self.leaf_of[key]
        best, best_dim = 0.0, -1
        while node.up is not None:
            parent = node.up
            sibling = parent.right if parent.left is node else parent.left
            ratio = sibling.count / node.count
            if best_dim < 0 or ratio > best:
                best, best_dim = ratio, parent.dim
            node = parent
        return best, best_dim


class NaiveRandomCutForest:
    """Sliding-window forest: insert, score by mean CoDisp, forget the oldest beyond ``size``."""

    def __init__(self, seeds: np.ndarray, size: int, n_features: int):
        self.trees = [NaiveCutTree(SplitMix64(s)) for s in seeds]
        self.size = size
        self.n_features = n_features
        self.seen = 0

    def score_learn(self, point: np.ndarray) -> tuple[float, np.ndarray]:
        key = self.seen
        total = 0.0
        attribution = np.zeros(self.n_features)
        for tree in self.trees:
            tree.insert(key, point)
            value, dim = tree.codisp(key)
            total += value
            if dim >= 0:
                attribution[dim % self.n_features] += value / len(self.trees)
        self.seen += 1
        if self.seen > self.size:
            for tree in self.trees:
                tree.forget(self.seen - 1 - self.size)
        return total / len(self.trees), attribution
