r"""The exercise of the chapter "Collapse through the layers": He & Su's separation fuzziness.

``separation_fuzziness(H, y)`` asks for

.. math::

    D = \operatorname{Tr}\big(SS_w\, SS_b^{+}\big), \qquad
    SS_b = \frac1N \sum_c n_c (\mu_c - \mu_G)(\mu_c - \mu_G)^\top, \qquad
    SS_w = \frac1N \sum_i (h_i - \mu_{y_i})(h_i - \mu_{y_i})^\top,

with :math:`\mu_G` the sample mean and :math:`SS_b^{+}` the Moore–Penrose pseudo-inverse (He & Su,
"A law of data separation in deep learning", PNAS 120(36), 2023). The hidden cases have imbalanced
classes first, so that He & Su's class weights :math:`n_c / N` differ from the paper's :math:`1/C`
(for balanced classes :math:`D = C \cdot \mathrm{NC1}`), features far from the origin, between-class
matrices that are singular (``p > C - 1``), and one case where two classes share a mean, so that
:math:`SS_b` has rank ``C - 2``.

The reference and every wrong variant are plain numpy written here, independently of
:mod:`ncedu._layers` (which computes the fuzziness the chapter shows), so the checker cannot share
a mistake with it.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ._cases import _coinciding_means_case, _labelled_data
from ._engine import Exercise, _Case, _Finding, _m, _non_negative, _ShapeHint

__all__ = ["exercises"]

_HY = ("H: (N, p) float64 features; y: (N,) int labels in 0..C-1, every class present, classes of different "
       "sizes in most cases, in no particular order.")

# (seed, class counts, p, distance of the features' centre from the origin). The first case has imbalanced
# classes and p = C - 1 (SS_b invertible), so that every variant differs from the answer there and a plain
# inverse still works; the second has a singular SS_b (p > C - 1).
_FUZZINESS: tuple[tuple[int, tuple[int, ...], int, float], ...] = (
    (601, (8, 14, 20), 2, 30.0),
    (602, (12, 5, 9, 16), 6, 10.0),
    (603, (6, 15), 3, 20.0),  # C = 2
    (604, (10, 10, 10, 10, 10), 7, 0.0),  # balanced, near the origin: D = C * NC1 here
    (605, (5, 9, 12, 7, 20), 8, 50.0),
    (606, (12, 7, 30, 9, 15, 6, 11, 25, 8, 20), 16, 40.0),  # C = 10
    (607, (3, 40, 4), 5, 100.0),  # strongly imbalanced, far from the origin
)


def _fuzziness_cases() -> list[_Case]:
    out = []
    for seed, counts, p, offset in _FUZZINESS:
        H, y, _ = _labelled_data(seed, counts, p, offset)
        words = ["balanced classes" if len(set(counts)) == 1 else "imbalanced classes"]
        if offset >= 20:
            words.append("features far from the origin")
        words.append("SS_b invertible (p = C - 1)" if p == len(counts) - 1 else "SS_b singular (p > C - 1)")
        out.append(_Case(args=(H, y), dims={"C": len(counts), "p": p, "N": len(y)}, note=", ".join(words),
                         data={"H": H, "y": y}))
    shared = _coinciding_means_case()
    out.append(_Case(args=shared.args, dims=shared.dims, note="imbalanced classes, two of which share a mean "
                     "(SS_b has rank C - 2)", data=dict(shared.data)))
    return out


def _pinv_psd(S: np.ndarray, rank: Optional[int] = None) -> np.ndarray:
    """Pseudo-inverse of a symmetric positive semi-definite matrix: eigenvalues below 1e-10 times the largest
    count as zero; with ``rank``, exactly the ``rank`` largest are inverted (a common mistake)."""
    lam, V = np.linalg.eigh((S + S.T) / 2)
    order = np.argsort(lam)[::-1]
    keep = order[:rank] if rank is not None else order[lam[order] > lam.max() * 1e-10]
    keep = keep[lam[keep] > 0]
    return (V[:, keep] / lam[keep]) @ V[:, keep].T


def _parts(case: _Case) -> dict:
    H, y = case.data["H"], case.data["y"]
    C = int(y.max()) + 1
    N = len(y)
    counts = np.bincount(y, minlength=C).astype(np.float64)
    mu = np.stack([H[y == c].mean(axis=0) for c in range(C)])
    mu_G = H.mean(axis=0)
    return {"H": H, "y": y, "C": C, "N": N, "counts": counts, "mu": mu, "mu_G": mu_G,
            "R": H - mu[y], "T": H - mu_G}


def _scatter(X: np.ndarray, weights: np.ndarray, total: float) -> np.ndarray:
    """``sum_k weights_k x_k x_k^T / total`` for the rows x_k of X."""
    return (X.T * weights) @ X / total


def _fuzziness(case: _Case, *, between: str = "frequency", within: str = "pooled", centre: str = "sample",
               divide: float = 1.0, rank: Optional[int] = None, inverted: bool = False) -> float:
    """``Tr(SS_w SS_b^+)`` with one of the usual ingredients changed (the defaults give the answer)."""
    s = _parts(case)
    C, N, counts, mu = s["C"], s["N"], s["counts"], s["mu"]
    centre_point = s["mu_G"] if centre == "sample" else mu.mean(axis=0)
    M = mu - centre_point
    if between == "frequency":
        Sb = _scatter(M, counts, N)
    elif between == "uniform":  # the paper's Sigma_B: weight 1/C per class
        Sb = _scatter(M, np.ones(C), C)
    elif between == "unnormalised":  # sum_c n_c (...)(...)^T without the 1/N
        Sb = _scatter(M, counts, 1.0)
    else:
        raise ValueError(between)
    if within == "pooled":
        Sw = _scatter(s["R"], np.ones(N), N)
    elif within == "global":  # centred at mu_G: the total scatter
        Sw = _scatter(s["T"], np.ones(N), N)
    elif within == "ddof1":
        Sw = _scatter(s["R"], np.ones(N), N - 1)
    elif within == "class_average":  # (1/C) sum_c Sigma_c: every class the same weight
        y, R = s["y"], s["R"]
        Sw = sum(_scatter(R[y == c], np.ones(int(counts[c])), counts[c]) for c in range(C)) / C
    elif within == "unnormalised":
        Sw = _scatter(s["R"], np.ones(N), 1.0)
    else:
        raise ValueError(within)
    if inverted:
        return float(np.trace(Sb @ _pinv_psd(Sw)))
    return float(np.trace(Sw @ _pinv_psd(Sb, rank)) / divide)


def _trace_ratio(case: _Case) -> float:
    s = _parts(case)
    Sw = _scatter(s["R"], np.ones(s["N"]), s["N"])
    Sb = _scatter(s["mu"] - s["mu_G"], s["counts"], s["N"])
    return float(np.trace(Sw) / np.trace(Sb))


_VARIANTS = (
    _m("fuzziness_is_nc1", "looks like the paper's NC1, Tr(Sigma_W Sigma_B^+) / C: the fuzziness has no division by "
       "C, and its SS_b weights class c by its share n_c / N, not by 1/C",
       lambda c: _fuzziness(c, between="uniform", divide=_parts(c)["C"])),
    _m("fuzziness_uniform_class_weights", "looks like SS_b with every class weighted 1/C (C times the paper's NC1); "
       "He & Su weight class c by its share n_c / N, and the two agree only when the classes are balanced",
       lambda c: _fuzziness(c, between="uniform")),
    _m("fuzziness_divided_by_C", "looks like Tr(SS_w SS_b^+) / C: the fuzziness is the trace itself, with no "
       "division by the number of classes", lambda c: _fuzziness(c, divide=_parts(c)["C"])),
    _m("fuzziness_within_centred_at_global_mean", "looks like SS_w centred at the global mean (that is the total "
       "scatter, and the trace grows by the rank of SS_b); centre each sample at the mean of its own class",
       lambda c: _fuzziness(c, within="global")),
    _m("fuzziness_inverted", "looks like Tr(SS_b SS_w^+), the signal-to-noise ratio; the fuzziness is its inverse "
       "kind, Tr(SS_w SS_b^+): within-class scatter measured against the between-class scatter",
       lambda c: _fuzziness(c, inverted=True)),
    _m("fuzziness_global_mean_of_class_means", "looks like SS_b centred at the mean of the class means; mu_G is the "
       "mean of all N samples (the two differ when the classes have different sizes)",
       lambda c: _fuzziness(c, centre="means")),
    _m("fuzziness_within_divided_by_n_minus_1", "looks like SS_w divided by N - 1 (np.cov's default); both sums of "
       "squares are divided by N", lambda c: _fuzziness(c, within="ddof1")),
    _m("fuzziness_within_average_of_class_covariances", "looks like SS_w as the plain average of the C class "
       "covariances; SS_w pools all N deviations, which weights class c by its share n_c / N",
       lambda c: _fuzziness(c, within="class_average")),
    _m("fuzziness_unnormalised_sum", "looks like one of the two sums of squares without its 1/N (He & Su divide "
       "both by N; it then cancels in the ratio)", lambda c: _fuzziness(c, within="unnormalised")),
    _m("fuzziness_unnormalised_sum", "looks like one of the two sums of squares without its 1/N (He & Su divide "
       "both by N; it then cancels in the ratio)", lambda c: _fuzziness(c, between="unnormalised")),
    _m("fuzziness_trace_ratio", "looks like Tr(SS_w) / Tr(SS_b), a different measure that ignores directions; the "
       "fuzziness multiplies SS_w by the pseudo-inverse of SS_b before taking the trace", _trace_ratio),
)

_PLAIN_INVERSE = ("this looks like a plain inverse of SS_b: SS_b has rank at most C - 1, smaller than p here, so it "
                  "has no inverse; use the Moore-Penrose pseudo-inverse (np.linalg.pinv)")
_FIXED_RANK = ("here two classes share a mean, so SS_b has rank C - 2, not C - 1: keeping exactly C - 1 eigenpairs "
               "inverts an eigenvalue that is only rounding error. Treat the eigenvalues below a small tolerance "
               "times the largest as zero (as np.linalg.pinv does)")


def _diagnose(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    """A plain inverse of a singular SS_b (or one eigenvalue too many) gives a huge, negative or non-finite D."""
    if case.dims["p"] <= case.dims["C"] - 1:
        return None
    v, ref = float(value), _fuzziness(case)
    if not np.isfinite(v) or v < 0 or abs(v) > 1e3 * ref:
        if case.data.get("rank_deficient"):
            return _Finding("fuzziness_fixed_rank", _FIXED_RANK)
        return _Finding("fuzziness_plain_inverse", _PLAIN_INVERSE)
    return None


def _explain_error(err: Exception, case: _Case) -> Optional[_Finding]:
    if isinstance(err, np.linalg.LinAlgError):
        return _Finding("fuzziness_plain_inverse", _PLAIN_INVERSE)
    return None


def exercises() -> list[Exercise]:
    """The chapter's exercises (one): ``separation_fuzziness``."""
    return [
        Exercise(
            name="separation_fuzziness",
            signature="separation_fuzziness(H, y) -> float",
            description="He & Su's separation fuzziness D = Tr(SS_w SS_b^+), with SS_b = (1/N) sum_c n_c (mu_c - mu_G)"
                        "(mu_c - mu_G)^T, SS_w = (1/N) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T, mu_G the mean of all "
                        "samples and ^+ the Moore-Penrose pseudo-inverse. " + _HY,
            arg_names=("H", "y"),
            make_cases=_fuzziness_cases,
            reference=_fuzziness,
            variants=_VARIANTS,
            diagnose=_diagnose,
            properties=(_non_negative("the separation fuzziness"),),
            shape_hints=(_ShapeHint(("p", "p"), "wrong_shape", "a (p, p) matrix, perhaps SS_w SS_b^+ itself; the "
                                    "fuzziness is its trace, one number"),
                         _ShapeHint(("C",), "wrong_shape", "one value per class; the fuzziness is one number for "
                                    "all classes together")),
            explain_error=_explain_error,
            other_codes=("fuzziness_plain_inverse", "fuzziness_fixed_rank"),
        ),
    ]
