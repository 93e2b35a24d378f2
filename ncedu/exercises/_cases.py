"""Hidden cases of the foundations exercises, and plain-numpy pieces for their wrong variants.

The cases are deterministic (fixed seeds) and built to tell the usual mistakes apart: imbalanced
classes, classes in no particular order, means far from the origin, coinciding means. The numpy
pieces compute the quantities *independently* of :mod:`ncedu.metrics`, so that a mistake's value
is never the reference with a twist (the cases use :func:`ncedu.measure` only to build their inputs).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from ..metrics import measure
from ._engine import _Case


# (seed, class counts, p, distance of the features' centre from the origin)
_LABELLED: tuple[tuple[int, tuple[int, ...], int, float], ...] = (
    (110, (6, 9, 12), 2, 10.0),  # p = C - 1: Sigma_B is invertible (a plain inverse still works)
    (102, (5, 12, 20, 9), 6, 50.0),
    (103, (4, 11), 3, 30.0),  # C = 2
    (104, (10, 10, 10, 10, 10), 5, 0.0),  # balanced, C = p, near the origin
    (105, (3, 6, 9, 12, 15, 30), 10, 100.0),
    (106, (7, 12, 5, 20, 9, 15, 6, 11, 25, 8), 16, 20.0),  # C = 10
    (107, (2, 2, 40), 8, 40.0),  # strongly imbalanced
    (108, (2, 3), 1, 5.0),  # the smallest: C = 2, p = 1
)


# Noisier, low-dimensional data for NC4, so that labels, NCC and network decisions disagree. Seeds
# chosen so that on every case each wrong variant differs from the answer and from the others,
# except where no data can separate them (for C = 2, the argmin of the logits is the other class).
_NC4: tuple[tuple[int, tuple[int, ...], int, float], ...] = (
    (203, (40, 60, 50), 2, 30.0),
    (206, (30, 80), 3, 40.0),  # C = 2
    (201, (25, 25, 25, 25, 25), 4, 0.0),  # balanced, near the origin
    (203, (20, 50, 16, 60, 34, 24), 6, 60.0),
    (202, (45, 45, 45, 45), 3, 6.0),  # balanced
)


_ETF_SIZES = (3, 2, 4, 5, 7, 10)

_ETF_SHAPES = ((3, 2), (2, 1), (4, 4), (5, 12), (10, 9), (7, 20), (2, 5))


def _labelled_data(
    seed: int, counts: Sequence[int], p: int, offset: float, noise: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian classes around random centres (spread 2) shifted ``offset`` from the origin; labels shuffled."""
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal(p)
    centres = offset * direction / np.linalg.norm(direction) + 2.0 * rng.standard_normal((len(counts), p))
    y = np.repeat(np.arange(len(counts)), counts)
    rng.shuffle(y)
    H = centres[y] + noise * rng.standard_normal((len(y), p))
    return H, y.astype(np.int64), centres


def _note(counts: Sequence[int], offset: float) -> str:
    words = ["balanced classes" if len(set(counts)) == 1 else "imbalanced classes"]
    if offset >= 20:
        words.append("features far from the origin")
    return ", ".join(words)


def _labelled_cases() -> list[_Case]:
    """``(H, y)``."""
    out = []
    for seed, counts, p, offset in _LABELLED:
        H, y, _ = _labelled_data(seed, counts, p, offset)
        dims = {"C": len(counts), "p": p, "N": len(y)}
        out.append(_Case(args=(H, y), dims=dims, note=_note(counts, offset), data={"H": H, "y": y}))
    return out


def _coinciding_means_case() -> _Case:
    """``(H, y)`` with two classes that share a mean, so ``rank Sigma_B = C - 2``, not ``C - 1``.

    The features are integers, and class 3 holds the rows of class 1 permuted and moved by
    integer offsets that sum to zero, so the two class means are equal exactly, in any order of
    summation: ``M`` is exactly rank-deficient and a pseudo-inverse that keeps exactly ``C - 1``
    eigenpairs inverts an eigenvalue that is pure rounding error.
    """
    seed, counts, p = 109, (12, 9, 15, 9, 10), 6
    H, y, _ = _labelled_data(seed, counts, p, 0.0)
    H = np.round(4.0 * H)
    rng = np.random.default_rng(seed)
    offsets = rng.integers(-3, 4, size=(counts[1], p)).astype(np.float64)
    offsets[-1] = -offsets[:-1].sum(0)
    H[y == 3] = H[y == 1][rng.permutation(counts[1])] + offsets
    dims = {"C": len(counts), "p": p, "N": len(y)}
    return _Case(args=(H, y), dims=dims, note="two classes share a mean (Sigma_B has rank C - 2)",
                 data={"H": H, "y": y, "rank_deficient": True})


def _nc1_cases() -> list[_Case]:
    """The labelled cases, then one whose class means span only ``C - 2`` dimensions."""
    return _labelled_cases() + [_coinciding_means_case()]


def _means_cases(min_classes: int = 2) -> list[_Case]:
    """``(M,)``: the centred means of the labelled cases, as ncedu computes them."""
    out = []
    for case in _labelled_cases():
        if case.dims["C"] >= min_classes:
            M = measure(case.data["H"], case.data["y"]).centred_means
            dims = {"C": case.dims["C"], "p": case.dims["p"]}
            out.append(_Case(args=(M,), dims=dims, note=case.note, data={**case.data, "M": M}))
    return out


def _nc3_cases() -> list[_Case]:
    """``(W, M)`` with ``W`` a noisy multiple of ``M``; the case with ``C = p`` first (it exposes a transposed ``W``)."""
    out = []
    for k, case in enumerate(_means_cases()):
        M = case.data["M"]
        W = 2.5 * M + 0.5 * np.random.default_rng(1000 + k).standard_normal(M.shape)
        out.append(_Case(args=(W, M), dims=case.dims, note=case.note, data={**case.data, "W": W}))
    return sorted(out, key=lambda c: c.dims["C"] != c.dims["p"])


def _nc4_cases() -> list[_Case]:
    """``(H, y, W, b)`` where the bias changes decisions and network, NCC and labels disagree."""
    out = []
    for seed, counts, p, offset in _NC4:
        H, y, centres = _labelled_data(seed, counts, p, offset, noise=1.5)
        rng = np.random.default_rng(seed + 1000)
        mu_G = H.mean(0)
        W = (centres - centres.mean(0)) + 0.7 * rng.standard_normal(centres.shape)
        spread = float(((H - mu_G) @ W.T).std())
        b = -W @ mu_G + 0.4 * spread * rng.standard_normal(len(counts))
        dims = {"C": len(counts), "p": p, "N": len(y)}
        out.append(_Case(args=(H, y, W, b), dims=dims, note=_note(counts, offset), data={"H": H, "y": y, "W": W, "b": b}))
    return out


def _etf_gram_cases() -> list[_Case]:
    return [_Case(args=(C,), dims={"C": C}) for C in _ETF_SIZES]


def _simplex_cases() -> list[_Case]:
    return [_Case(args=(C, p), dims={"C": C, "p": p}) for C, p in _ETF_SHAPES]


def _log_epochs(last: int, count: int) -> list[int]:
    """About ``count`` log-spaced epochs from 1 to ``last``, rounding merges topped up with the smallest missing."""
    grid = sorted(set(np.round(np.geomspace(1, last, count)).astype(int).tolist()))
    missing = [e for e in range(1, last + 1) if e not in grid][: count - len(grid)]
    return sorted(grid + missing)


def _tpt_cases() -> list[_Case]:
    """``(epochs, train_acc)``: measured epochs (strictly increasing) and training accuracies (correct / 2000).

    Ordered so that each named mistake first fails on a case that exposes it: the first case has
    accuracies just below 1.0 before the first 1.0 (a tolerance), positions that are not epochs
    (an index) and many epochs at 1.0 (the last instead of the first); the second dips below 1.0
    after reaching it (the start of the final streak); the third never reaches 1.0 (None).
    """
    n = 2000
    flagship_like = [1620, 1572, 1773, 1744, 1852, 1854, 1907, 1896, 1930, 1918, 1863, 1867, 1873, 1895, 1905,
                     1912, 1951, 1870, 1952, 1919, 1768, 1891, 1983, 1999] + [2000] * 6
    dips = [1500 + 15 * k for k in range(30)] + [2000, 1999, 1999, 1998] + [2000] * 16
    never = [1400 + 30 * k for k in range(18)] + [1999, 1995, 1997, 1990, 1996, 1998, 1998]
    specs = [
        (_log_epochs(300, 30), flagship_like, "training accuracy rises with ups and downs, then stays at 1.0"),
        (_log_epochs(350, 50), dips, "training accuracy reaches 1.0, dips below it, and returns"),
        (_log_epochs(200, 25), never, "training accuracy never reaches 1.0"),
        (list(range(1, 21)), [2000] * 20, "100% training accuracy from the first measured epoch on"),
        (list(range(10, 301, 10)), [1200 + 25 * k for k in range(29)] + [2000],
         "measured every 10 epochs; 100% training accuracy only at the last one"),
        ([1, 2, 4, 8, 16], [600, 900, 1200, 1400, 1560], "a short run, far from zero training error"),
        ([5, 10, 20, 40, 80, 160, 320], [1800, 1940, 1990, 2000, 1999, 1998, 1999],
         "training accuracy reaches 1.0 once and never again"),
        ([300], [2000], "a single measured epoch"),
    ]
    out = []
    for epochs, correct, note in specs:
        e = np.asarray(epochs, dtype=np.int64)
        acc = np.asarray(correct, dtype=np.float64) / n
        assert len(e) == len(acc) and np.all(np.diff(e) > 0)
        hit = np.flatnonzero(acc == 1.0)
        expected = int(e[hit[0]]) if hit.size else None
        out.append(_Case(args=(e, acc), dims={"E": len(e)}, note=note,
                         data={"epochs": e, "acc": acc, "expected": expected}))
    return out


def _stats(case: _Case) -> dict[str, Any]:
    H, y = case.data["H"], case.data["y"]
    C = int(y.max()) + 1
    mu = np.stack([H[y == c].mean(0) for c in range(C)])
    mu_G = H.mean(0)
    return {"H": H, "y": y, "C": C, "N": len(y), "p": H.shape[1], "counts": np.bincount(y, minlength=C),
            "mu": mu, "mu_G": mu_G, "M": mu - mu_G, "R": H - mu[y], "T": H - mu_G}


def _cov(X: np.ndarray, n: float) -> np.ndarray:
    """``X^T X / n``."""
    return X.T @ X / n


def _per_class_covariances(case: _Case, ddof: int) -> list[np.ndarray]:
    s = _stats(case)
    R, y = s["R"], s["y"]
    return [_cov(R[y == c], n - ddof) if n > ddof else np.full((s["p"], s["p"]), np.nan)
            for c, n in enumerate(s["counts"])]


def _sorted_means(case: _Case) -> Optional[np.ndarray]:
    """Class means computed as if the samples came sorted by class in equal blocks."""
    s = _stats(case)
    if s["N"] % s["C"]:
        return None
    return s["H"].reshape(s["C"], s["N"] // s["C"], s["p"]).mean(1)


def _pinv_top(S: np.ndarray, rank: int) -> np.ndarray:
    """Pseudo-inverse of a symmetric PSD matrix keeping its ``rank`` largest eigenvalues."""
    lam, V = np.linalg.eigh(S)
    keep = np.argsort(lam)[::-1][:rank]
    keep = keep[lam[keep] > lam.max() * 1e-12]
    return (V[:, keep] / lam[keep]) @ V[:, keep].T


def _nc1_variant(case: _Case, *, div_C: bool = True, sw_global: bool = False, mean_of_means: bool = False,
                 freq: bool = False, sw_ddof: int = 0, sb_uncentred: bool = False) -> float:
    """NC1 with one or more of the common changes to its definition."""
    s = _stats(case)
    C, N = s["C"], s["N"]
    Sw = _cov(s["T"] if sw_global else s["R"], N - sw_ddof)
    rank = C - 1
    if mean_of_means:
        Sb = _cov(s["mu"] - s["mu"].mean(0), C)
    elif freq:
        Sb = (s["M"].T * s["counts"]) @ s["M"] / N
    elif sb_uncentred:
        Sb, rank = _cov(s["mu"], C), C
    else:
        Sb = _cov(s["M"], C)
    return float(np.trace(Sw @ _pinv_top(Sb, rank)) / (C if div_C else 1))


def _row_norms(M: np.ndarray) -> np.ndarray:
    return np.linalg.norm(M, axis=1)


def _cosine_matrix(M: np.ndarray) -> np.ndarray:
    U = M / _row_norms(M)[:, None]
    return U @ U.T


def _pair_cosines(M: np.ndarray) -> np.ndarray:
    return _cosine_matrix(M)[np.triu_indices(len(M), 1)]


def _std(x: np.ndarray, ddof: int) -> float:
    return float(np.std(x, ddof=ddof)) if x.size > ddof else float("nan")


def _std_over_mean(x: np.ndarray, ddof: int = 1) -> float:
    return _std(x, ddof) / float(np.mean(x))


def _nc3(W: np.ndarray, M: np.ndarray, norm: Any = "fro") -> float:
    return float(np.sum((W / np.linalg.norm(W, norm) - M / np.linalg.norm(M, norm)) ** 2))


def _nc3_rows(W: np.ndarray, M: np.ndarray) -> float:
    return float(np.sum((W / _row_norms(W)[:, None] - M / _row_norms(M)[:, None]) ** 2))


def _nc4_decisions(case: _Case) -> dict[str, np.ndarray]:
    """Per-sample decisions: labels, network (with/without bias, argmin), NCC (right and two wrong ways)."""
    s = _stats(case)
    H, W, b = s["H"], case.data["W"], case.data["b"]

    def nearest(centres: np.ndarray) -> np.ndarray:
        return ((H[:, None, :] - centres[None, :, :]) ** 2).sum(2).argmin(1)

    return {"labels": s["y"], "net": (H @ W.T + b).argmax(1), "net_no_bias": (H @ W.T).argmax(1),
            "net_argmin": (H @ W.T + b).argmin(1), "ncc": nearest(s["mu"]), "ncc_centred": nearest(s["M"]),
            "ncc_inner": (H @ s["mu"].T).argmax(1)}


def _mismatch(case: _Case, first: str, second: str) -> float:
    d = _nc4_decisions(case)
    return float(np.mean(d[first] != d[second]))


def _S(case: _Case, key: str) -> Any:
    return _stats(case)[key]
