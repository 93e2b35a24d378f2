r"""The coding exercise of the chapter "Imbalance and minority collapse": the SELI classifier Gram matrix.

``seli_classifier_gram(n)`` asks, for class counts ``n = (n_0, ..., n_{C-1})``, for

.. math::

    G = V\Lambda V^\top, \qquad \hat Z = Y - \tfrac1C\mathbf 1_C\mathbf 1_N^\top = V\Lambda U^\top \ \text{(thin SVD)},

the inner products :math:`WW^\top` of the classifier rows in the SELI geometry of Thrampoulidis, Kini,
Vakilian & Behnia (NeurIPS 2022): ``Y`` is the (C, N) one-hot label matrix with ``n_c`` columns
``e_c``, so column ``i`` of the simplex-encoded label matrix is ``e_{y_i} - 1/C``. Equivalently
:math:`G = (\hat Z\hat Z^\top)^{1/2}`, the positive semi-definite square root.

The hidden cases start with imbalanced classes (where centring over the samples instead of over the
classes differs from the answer), include balanced classes (where the answer is a multiple of the
simplex-ETF Gram), ``C = 2``, a strong imbalance (200 against 2) and ``C = 10``.

The reference and every wrong variant are plain numpy from the explicit ``C x N`` SEL matrix, written
here independently of :func:`ncedu.theory.seli_geometry` (which works from ``C x C`` matrices).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ._engine import RTOL, Exercise, _Case, _close, _Finding, _m, _ShapeHint

__all__ = ["exercises"]

#: The hidden class counts, in this order.
_COUNTS: tuple[tuple[int, ...], ...] = (
    (6, 6, 1, 1),                       # imbalanced first: every variant differs from the answer here
    (5, 5, 5),                          # balanced: a multiple of the ETF Gram
    (9, 2),                             # C = 2
    (200, 200, 200, 2, 2, 2),           # strong imbalance
    (3, 1, 4, 1, 5, 9, 2, 6),
    (1,) * 10,                          # balanced, one sample per class, C = 10
    (50, 1, 1, 1, 1),
    (12, 7, 30, 9, 15, 6, 11, 25, 8, 20),   # C = 10
)


def _cases() -> list[_Case]:
    out = []
    for counts in _COUNTS:
        n = np.array(counts, dtype=np.int64)
        kind = "balanced classes" if len(set(counts)) == 1 else "imbalanced classes"
        out.append(_Case(args=(n,), dims={"C": len(counts), "N": int(n.sum())}, note=f"{kind}, N={int(n.sum())}",
                         data={"n": n}))
    return out


def _labels(case: _Case, centre: str = "classes") -> np.ndarray:
    """The (C, N) label matrix: one-hot (``"none"``), centred over the classes (the SEL matrix) or over the samples."""
    n = case.data["n"]
    C = len(n)
    Y = np.eye(C)[:, np.repeat(np.arange(C), n)]
    if centre == "classes":
        return Y - 1.0 / C
    if centre == "samples":                                   # each row minus its mean over the N samples
        return Y - Y.mean(axis=1, keepdims=True)
    return Y


def _svd_gram(Z: np.ndarray, values: bool = True, side: str = "left") -> np.ndarray:
    """``V Lambda V^T`` (or ``V V^T``) from the thin SVD of ``Z``; ``side="right"`` gives ``U Lambda U^T``."""
    V, lam, Ut = np.linalg.svd(Z, full_matrices=False)
    keep = lam > lam.max() * 1e-12
    B = V[:, keep] if side == "left" else Ut[keep].T
    return (B * (lam[keep] if values else 1.0)) @ B.T


def _gram(case: _Case) -> np.ndarray:
    return _svd_gram(_labels(case))


def _cosines(case: _Case) -> np.ndarray:
    G = _gram(case)
    d = np.sqrt(np.diag(G))
    return G / np.outer(d, d)


def _class_feature_gram(case: _Case) -> np.ndarray:
    """The inner products of the features of the first sample of each class: ``(U Lambda U^T)`` on those samples."""
    n = case.data["n"]
    first = np.concatenate([[0], np.cumsum(n)[:-1]])
    return _svd_gram(_labels(case), side="right")[np.ix_(first, first)]


_VARIANTS = (
    _m("seli_no_square_root", "looks like Z Z^T itself: the classifier Gram is its square root, V Lambda V^T with the "
       "singular values, not their squares", lambda c: _labels(c) @ _labels(c).T),
    _m("seli_uncentred_labels", "looks like the square root of Y Y^T for the one-hot labels Y: the SEL matrix subtracts "
       "1/C from every entry, so that each column is e_y - 1/C", lambda c: _svd_gram(_labels(c, "none"))),
    _m("seli_centred_over_samples", "looks like labels centred over the samples (each row of Y minus its mean n_c / N); "
       "the SEL matrix centres each column over the classes, subtracting 1/C (the two agree only for balanced classes)",
       lambda c: _svd_gram(_labels(c, "samples"))),
    _m("seli_singular_values_dropped", "looks like V V^T, a projector: the Gram keeps the singular values, V Lambda V^T",
       lambda c: _svd_gram(_labels(c), values=False)),
    _m("seli_cosines_not_gram", "looks like the matrix of cosines (ones on the diagonal): return the Gram matrix "
       "itself, whose diagonal holds the squared norms of the classifier rows", _cosines),
    _m("seli_feature_gram", "looks like the Gram of the class features, from the right singular vectors U: the "
       "classifier Gram uses the left ones, V Lambda V^T", _class_feature_gram),
    _m("seli_entrywise_sqrt", "looks like a square root taken entry by entry (np.sqrt): the matrix square root is "
       "V sqrt(D) V^T from an eigendecomposition of Z Z^T (or take V Lambda V^T from the SVD of Z)",
       lambda c: np.sqrt(np.abs(_labels(c) @ _labels(c).T))),
)

_ENTRYWISE = ("NaN where Z Z^T has negative entries: this looks like np.sqrt taken entry by entry; the matrix square "
              "root is V sqrt(D) V^T from an eigendecomposition of Z Z^T (or take V Lambda V^T from the SVD of Z)")
_NEGATIVE_EIGENVALUE = ("NaN almost everywhere: Z Z^T is singular (every column of Z sums to zero, so Z Z^T 1 = 0), "
                        "so its smallest eigenvalue is zero and rounding can make it slightly negative; clip the "
                        "eigenvalues at zero before the square root (np.clip(lam, 0, None)), or use the SVD of Z")


def _diagnose(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    bad = ~np.isfinite(value)
    if not bad.any():
        return None
    S = _labels(case) @ _labels(case).T
    if np.array_equal(bad, S < 0) and _close(value[~bad], np.sqrt(S[~bad])):
        return _Finding("seli_entrywise_sqrt", _ENTRYWISE)
    if bad.mean() > 0.5:
        return _Finding("seli_negative_eigenvalue", _NEGATIVE_EIGENVALUE)
    return None


def _symmetric(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    if not _close(value, value.T):
        return _Finding("not_symmetric", "the matrix is not symmetric, but a Gram matrix W W^T always is")
    return None


def _positive_semidefinite(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    lam = np.linalg.eigvalsh((value + value.T) / 2)
    if lam.min() < -RTOL * max(abs(lam).max(), 1.0):
        return _Finding("not_positive_semidefinite", "the matrix has a negative eigenvalue, but a Gram matrix W W^T "
                                                      "cannot: take the positive square root")
    return None


def exercises() -> list[Exercise]:
    """The chapter's exercises (one): ``seli_classifier_gram``."""
    return [
        Exercise(
            name="seli_classifier_gram",
            signature="seli_classifier_gram(n) -> array of shape (C, C)",
            description="The classifier Gram matrix W W^T = V Lambda V^T of the SELI geometry, where Z = Y - (1/C) 1 1^T "
                        "is the (C, N) simplex-encoded label matrix (column i is e_{y_i} - 1/C; class c has n[c] "
                        "columns) and Z = V Lambda U^T its thin SVD; equivalently (Z Z^T)^{1/2}. n: (C,) int64 class "
                        "counts, each >= 1.",
            arg_names=("n",),
            make_cases=_cases,
            shape=("C", "C"),
            reference=_gram,
            variants=_VARIANTS,
            diagnose=_diagnose,
            properties=(_symmetric, _positive_semidefinite),
            shape_hints=(_ShapeHint(("N", "N"), "wrong_shape", "an (N, N) matrix, perhaps Z^T Z or the sample features' "
                                    "Gram U Lambda U^T; the classifier Gram is (C, C), one row per class"),
                         _ShapeHint(("C", "N"), "wrong_shape", "a (C, N) matrix, perhaps the SEL matrix Z itself; the "
                                    "answer is the (C, C) Gram matrix of the classifier rows"),
                         _ShapeHint(("C",), "wrong_shape", "one value per class, perhaps the singular values or the "
                                    "row norms; return the whole (C, C) Gram matrix")),
            other_codes=("seli_entrywise_sqrt", "seli_negative_eigenvalue", "not_symmetric", "not_positive_semidefinite"),
        ),
    ]
