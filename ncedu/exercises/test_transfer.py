r"""The exercise of the chapter "Collapse on test data, generalisation and transfer" (``book/test_transfer.ipynb``).

* ``class_separation``: the class separation :math:`R^2` of Kornblith, Chen, Lee & Norouzi
  (NeurIPS 2021), with the cosine distance :math:`d(x, x') = 1 - x^\top x' / (\|x\| \|x'\|)`,

  .. math::

      \bar d_{\mathrm{within}} = \frac1K \sum_{k} \frac{1}{N_k^2} \sum_{m=1}^{N_k}\sum_{n=1}^{N_k}
          d(x_{k,m}, x_{k,n}), \qquad
      \bar d_{\mathrm{total}} = \frac{1}{K^2} \sum_{j,k} \frac{1}{N_j N_k} \sum_{m=1}^{N_j}\sum_{n=1}^{N_k}
          d(x_{j,m}, x_{k,n}), \qquad
      R^2 = 1 - \frac{\bar d_{\mathrm{within}}}{\bar d_{\mathrm{total}}},

  every class weighted equally, sums over all ordered pairs (the zero distances ``m = n``
  included). This is the definition as public implementations that cite the paper compute it.

The reference and every wrong variant are plain numpy, written here independently of the rest of
``ncedu`` (the chapter itself never computes :math:`R^2`). The hidden cases mix balanced and
imbalanced classes (where weighting classes equally and weighting samples equally differ), ``K``
from 2 to 6, features near and far from the origin, and samples rescaled by large factors (the
cosine distance ignores the length of each feature; a Euclidean distance does not).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ._cases import _labelled_data
from ._engine import Exercise, _Case, _Finding, _m, _ShapeHint

__all__ = ["exercises"]

# (seed, class counts, p, distance of the features' centre from the origin, rescale samples)
_SEPARATION: tuple[tuple[int, tuple[int, ...], int, float, bool], ...] = (
    (1501, (7, 12, 5), 4, 3.0, True),  # imbalanced first: class weights and sample weights differ at once
    (1502, (10, 10, 10, 10), 6, 2.0, False),  # balanced
    (1503, (9, 14), 3, 4.0, True),  # K = 2
    (1504, (6, 6, 6, 6, 6, 6), 10, 0.0, False),  # balanced, near the origin
    (1505, (3, 20, 8, 11, 5), 5, 12.0, True),  # strongly imbalanced, far from the origin
    (1506, (2, 2, 2), 2, 1.5, False),  # the smallest classes
    (1507, (15, 4, 9), 8, 6.0, True),
)


def _cases() -> list[_Case]:
    out = []
    for seed, counts, p, offset, rescale in _SEPARATION:
        H, y, _ = _labelled_data(seed, counts, p, offset)
        if rescale:  # cosine distances ignore each sample's length; Euclidean ones do not
            H = H * np.random.default_rng(seed + 7).uniform(0.2, 20.0, size=(len(y), 1))
        balanced = len(set(counts)) == 1
        note = ("balanced" if balanced else "imbalanced") + " classes"
        if offset >= 10:
            note += ", features far from the origin"
        if rescale:
            note += ", samples of very different lengths"
        out.append(_Case(args=(H, y), dims={"K": len(counts), "p": p, "N": len(y)}, note=note,
                         data={"H": H, "y": y}))
    return out


def _groups(case: _Case, unit: bool = True) -> list[np.ndarray]:
    H, y = case.data["H"], case.data["y"]
    X = H / np.linalg.norm(H, axis=1, keepdims=True) if unit else H
    return [X[y == k] for k in range(int(y.max()) + 1)]


def _distance(A: np.ndarray, B: np.ndarray, kind: str) -> np.ndarray:
    """All pairwise distances (len(A), len(B)) of one kind; A and B are already unit rows for cosines."""
    if kind == "cosine":
        return 1.0 - A @ B.T
    if kind == "similarity":
        return A @ B.T
    sq = np.maximum((A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T, 0.0)
    return sq if kind == "squared_euclidean" else np.sqrt(sq)


def _separation(case: _Case, *, kind: str = "cosine", within_pairs: str = "all", total: str = "classes",
                within: str = "classes", one_minus: bool = True) -> float:
    """Kornblith et al.'s R^2, or one of its common misreadings (keyword arguments)."""
    G = _groups(case, unit=kind in ("cosine", "similarity"))
    sizes = np.array([len(g) for g in G], dtype=np.float64)

    def within_mean(g: np.ndarray) -> float:
        D = _distance(g, g, kind)
        n = len(g)
        if within_pairs == "unordered":  # each pair once (scipy's pdist), still divided by n^2
            return float(D[np.triu_indices(n, 1)].sum() / n ** 2)
        if within_pairs == "distinct":  # the m != n pairs, divided by n (n - 1)
            return float((D.sum() - np.trace(D)) / (n * (n - 1)))
        return float(D.mean())

    w = np.array([within_mean(g) for g in G])
    d_within = float(np.sum(w * sizes) / sizes.sum()) if within == "samples" else float(w.mean())
    if total == "samples":  # every pair of samples, whatever their classes: classes weighted by size
        X = np.concatenate(G)
        d_total = float(_distance(X, X, kind).mean())
    elif total == "between":  # only the pairs from two different classes
        d_total = float(np.mean([_distance(a, b, kind).mean() for i, a in enumerate(G)
                                 for j, b in enumerate(G) if i != j]))
    else:
        d_total = float(np.mean([_distance(a, b, kind).mean() for a in G for b in G]))
    ratio = d_within / d_total
    return 1.0 - ratio if one_minus else ratio


def _trace_ratio_shortcut(case: _Case) -> Optional[float]:
    """1 / (1 + Tr Sigma_W / Tr Sigma_B) of the unit-length features with the paper's (sample) weights.

    Equal to R^2 for balanced classes (the chapter's proof exercise); for imbalanced classes the
    sample mean and the sample-weighted Sigma_W weight the classes by their sizes. None where the
    classes are balanced (there it is not a mistake).
    """
    G = _groups(case)
    if len({len(g) for g in G}) == 1:
        return None
    X = np.concatenate(G)
    mu = np.stack([g.mean(0) for g in G])
    within = sum(float(((g - m) ** 2).sum()) for g, m in zip(G, mu)) / len(X)
    between = float(((mu - X.mean(0)) ** 2).sum()) / len(G)
    return 1.0 / (1.0 + within / between)


_VARIANTS = (
    _m("r2_within_unordered_pairs", "looks like the within-class sum over each unordered pair once (as scipy's pdist "
       "returns them) divided by N_k^2: the definition sums over all N_k^2 ordered pairs (m, n), so every pair counts "
       "twice (and m = n adds zeros), as in the total", lambda c: _separation(c, within_pairs="unordered")),
    _m("r2_within_distinct_pairs", "looks like the within-class distances averaged over the N_k (N_k - 1) pairs with "
       "m != n; the definition divides the sum over all ordered pairs, m = n included (distance 0), by N_k^2",
       lambda c: _separation(c, within_pairs="distinct")),
    _m("r2_euclidean_distance", "looks like Euclidean distances ||x - x'||; the class separation uses the cosine "
       "distance 1 - cos(x, x'), which ignores the length of each feature", lambda c: _separation(c, kind="euclidean")),
    _m("r2_squared_euclidean_raw", "looks like squared Euclidean distances of the raw features (a trace ratio of "
       "Sigma_W and Sigma_T); the cosine distance 1 - cos(x, x') is that of the features scaled to unit length",
       lambda c: _separation(c, kind="squared_euclidean")),
    _m("r2_similarity_not_distance", "looks like the cosine similarity cos(x, x') where the cosine distance "
       "1 - cos(x, x') belongs", lambda c: _separation(c, kind="similarity")),
    _m("r2_missing_one_minus", "looks like the ratio d_within / d_total itself; R^2 = 1 - d_within / d_total",
       lambda c: _separation(c, one_minus=False)),
    _m("r2_total_over_samples", "right for balanced classes, not here: the total average pools all pairs of samples, "
       "which weights each class by its size; d_total averages over the K^2 pairs of classes (j, k), each block "
       "divided by N_j N_k", lambda c: _separation(c, total="samples")),
    _m("r2_within_weighted_by_size", "right for balanced classes, not here: d_within is the plain mean over the K "
       "classes of their average distance, every class weighted equally, not weighted by its number of samples",
       lambda c: _separation(c, within="samples")),
    _m("r2_total_between_only", "looks like d_total over pairs from two different classes only; the total average "
       "runs over all K^2 pairs of classes (j, k), j = k included", lambda c: _separation(c, total="between")),
    _m("r2_trace_ratio_sample_weights", "right for balanced classes, not here: 1 / (1 + Tr Sigma_W / Tr Sigma_B) of "
       "the normalised features equals R^2 only when the classes are balanced; with the sample mean and "
       "Sigma_W = (1/N) sum_i, big classes weigh more, while R^2 weighs every class equally",
       _trace_ratio_shortcut),
)


def _at_most_one(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    if float(value) > 1.0 + 1e-9:
        return _Finding("r2_above_one", "the value is above 1, but R^2 = 1 - d_within / d_total cannot be: distances "
                        "are never negative")
    return None


def exercises() -> list[Exercise]:
    """The chapter's exercises (one): ``class_separation``.

    Examples
    --------
    >>> [ex.name for ex in exercises()], len(exercises()[0].cases())
    (['class_separation'], 7)
    >>> value = _separation(_cases()[0])      # the reference on the first hidden case
    >>> bool(-1.0 < value < 1.0)
    True
    """
    return [
        Exercise(
            name="class_separation",
            signature="class_separation(H, y) -> float",
            description="Kornblith et al.'s class separation R^2 = 1 - d_within / d_total with the cosine distance "
                        "1 - cos(h, h'): d_within the mean over the K classes of the average distance over all "
                        "N_k^2 ordered pairs of samples of class k; d_total the mean over all K^2 pairs of classes "
                        "(j, k) of the average distance over the N_j N_k pairs of one sample of each. H: (N, p) "
                        "float64 features (no zero rows); y: (N,) int labels in 0..K-1, every class present, in no "
                        "particular order, classes of different sizes in some cases.",
            arg_names=("H", "y"),
            make_cases=_cases,
            reference=_separation,
            variants=_VARIANTS,
            properties=(_at_most_one,),
            shape_hints=(_ShapeHint(("K",), "wrong_shape", "one value per class, perhaps the classes' average "
                                    "distances; R^2 is a single number"),
                         _ShapeHint(("N", "N"), "wrong_shape", "a matrix of pairwise distances; R^2 is a single "
                                    "number made from their averages")),
            other_codes=("r2_above_one",),
        ),
    ]

