r"""The exercise of the chapter "MSE loss and the central path": the decomposition of the squared loss.

``loss_decomposition(H, y, W, b, lam)`` asks for the three terms of Han, Papyan & Donoho's (ICLR 2022)
decomposition :math:`L = L_{NC1} + L_{NC2/3} + L_{LS}^{\perp}` of

.. math::

    L(W, b) = \frac{1}{2N}\sum_{i=1}^N \|W h_i + b - e_{y_i}\|^2 + \frac{\lambda}{2}\bigl(\|W\|_F^2 + \|b\|^2\bigr),

with :math:`(W_{LS}, b_{LS})` the minimiser of :math:`L` on the given features (balanced classes):
:math:`L_{NC1} = \frac12\operatorname{tr}(W_{LS}\Sigma_W W_{LS}^\top) + \frac{\lambda}{2}(\|W_{LS}\|_F^2 + \|b_{LS}\|^2)`,
:math:`L_{NC2/3} = \frac{1}{2C}\sum_c \|W_{LS}\mu_c + b_{LS} - e_c\|^2` and
:math:`L_{LS}^{\perp} = L(W, b) - L(W_{LS}, b_{LS})`.

The hidden cases have balanced classes in no particular order, features near and far from the origin,
``C = 2`` and ``C = 10``, fewer samples than dimensions (the ridge keeps the minimiser unique), and
classifiers near, not at, the optimum. The reference and every wrong variant are plain numpy written
here on features with a constant 1 appended (Han et al.'s form), independently of
:mod:`ncedu.theory.central_path` (which eliminates the bias first), so the checker cannot share a
mistake with the code the chapter uses.
"""

from __future__ import annotations

from itertools import permutations
from typing import Optional

import numpy as np

from ._cases import _labelled_data
from ._engine import Exercise, _Case, _close, _Finding, _m, _ShapeHint

__all__ = ["exercises"]

_ARGS = ("H: (N, p) float64 features; y: (N,) int labels in 0..C-1, balanced classes in no particular order; "
         "W: (C, p) float64 and b: (C,) float64, the classifier whose loss is split; lam: float > 0, the weight "
         "decay on W and b.")

# (seed, C, samples per class, p, distance of the features' centre from the origin, lam). The first case is
# small and near the origin, with a lam large enough that every wrong variant differs from the answer there.
_DECOMPOSITION: tuple[tuple[int, int, int, int, float, float], ...] = (
    (701, 3, 10, 4, 1.0, 0.1),
    (702, 4, 8, 6, 20.0, 0.05),
    (703, 2, 15, 3, 10.0, 0.2),  # C = 2
    (704, 5, 4, 25, 3.0, 0.02),  # N = 20 < p = 25: only the ridge makes the minimiser unique
    (705, 10, 6, 9, 30.0, 0.025),  # C = 10, lam = C * 5e-3 / 2 as in the book's runs
    (706, 3, 20, 2, 50.0, 0.5),  # p = C - 1, far from the origin
)


def _augmented(H: np.ndarray) -> np.ndarray:
    return np.hstack([H, np.ones((H.shape[0], 1))])


def _fit(X: np.ndarray, y: np.ndarray, C: int, Lam: np.ndarray, a: float) -> np.ndarray:
    """argmin of (a/N) sum_i ||V x_i - e_{y_i}||^2 + (1/2) tr(V Lam V^T): V (S + Lam/(2a)) = Y^T X / N."""
    N = X.shape[0]
    S = X.T @ X / N
    cross = np.eye(C)[y].T @ X / N
    return np.linalg.solve(S + Lam / (2 * a), cross.T).T


def _loss(X: np.ndarray, y: np.ndarray, V: np.ndarray, Lam: np.ndarray, a: float) -> float:
    R = X @ V.T - np.eye(V.shape[0])[y]
    return a * float(np.mean(np.sum(R * R, axis=1))) + 0.5 * float(np.sum((V @ Lam) * V))


def _terms(case: _Case, *, a: float = 0.5, lam_scale: float = 1.0, bias_decay: bool = True,
           fit_bias_decay: Optional[bool] = None, bias: bool = True, nc1: str = "full", nc23: str = "mean",
           perp: str = "excess") -> np.ndarray:
    """``[L_NC1, L_NC2/3, L_perp]`` with one of the usual ingredients changed (the defaults give the answer)."""
    H, y, W, b, lam = (case.data[k] for k in ("H", "y", "W", "b", "lam"))
    C = int(y.max()) + 1
    X = _augmented(H) if bias else H
    V = np.hstack([W, b[:, None]]) if bias else W
    d = X.shape[1]
    diag = np.full(d, lam * lam_scale)
    if bias and not bias_decay:
        diag[-1] = 0.0
    Lam = np.diag(diag)
    fit_diag = diag.copy()
    if bias and fit_bias_decay is False:
        fit_diag[-1] = 0.0
    V_ls = _fit(X, y, C, np.diag(fit_diag), a)
    means = np.stack([X[y == c].mean(axis=0) for c in range(C)])
    Z = X - means[y] if nc1 != "total" else X - X.mean(axis=0)
    spread = Z.T @ Z / len(y)
    t1 = a * float(np.sum((V_ls @ spread) * V_ls))
    if nc1 != "no_ridge":
        t1 += 0.5 * float(np.sum((V_ls @ Lam) * V_ls))
    E = V_ls @ means.T - np.eye(C)
    t2 = a * float(np.sum(E * E)) * (1.0 / C if nc23 == "mean" else 1.0)
    if perp == "unweighted":
        t3 = 0.5 * float(np.sum((V - V_ls) ** 2))
    else:
        t3 = _loss(X, y, V, Lam, a) - _loss(X, y, V_ls, Lam, a)
    return np.array([t1, t2, t3])


def _cases() -> list[_Case]:
    out = []
    for seed, C, n, p, offset, lam in _DECOMPOSITION:
        H, y, _ = _labelled_data(seed, (n,) * C, p, offset)
        rng = np.random.default_rng(seed + 50)
        V_ls = _fit(_augmented(H), y, C, lam * np.eye(p + 1), 0.5)
        W = V_ls[:, :p] + 0.3 * np.abs(V_ls[:, :p]).max() * rng.standard_normal((C, p))
        b = V_ls[:, p] + 0.3 * rng.standard_normal(C)
        words = [f"{C} classes of {n}", f"lam = {lam:g}"]
        if offset >= 20:
            words.append("features far from the origin")
        if C * n < p:
            words.append("fewer samples than dimensions")
        out.append(_Case(args=(H, y, W, b, lam), dims={"C": C, "p": p, "N": C * n}, note=", ".join(words),
                         data={"H": H, "y": y, "W": W, "b": b, "lam": lam}))
    return out


def _reordered(case: _Case) -> list[np.ndarray]:
    ref = _terms(case)
    return [ref[list(order)] for order in permutations(range(3)) if order != (0, 1, 2)]


def _wrong_order(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    if any(_close(value, alt) for alt in _reordered(case)):
        return _Finding("decomp_wrong_order", "the right three numbers in the wrong order: return "
                        "[L_NC1, L_NC2/3, L_perp]")
    return None


def _negative(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    if np.any(value < -1e-9 * max(1.0, float(np.abs(value).max()))):
        return _Finding("negative_value", "a term is negative, but all three are non-negative (L_perp is the "
                        "excess of the loss over its minimum)")
    return None


_VARIANTS = (
    _m("decomp_bias_unpenalised", "looks like the bias left out of the weight decay (chapter 7's ridge form): here "
       "lam penalises b as well, (lam/2)(||W||^2 + ||b||^2), as torch's weight decay and Han et al. do",
       lambda c: _terms(c, bias_decay=False)),
    _m("decomp_bias_unpenalised", "looks like the minimiser fitted with a free bias (chapter 7's ridge form) while "
       "the loss penalises b: the minimiser must include (lam/2)||b||^2 too", lambda c: _terms(c, fit_bias_decay=False)),
    _m("decomp_mean_over_entries", "looks like the squared error averaged over the N C entries (ncedu.train's "
       "normalisation); this loss is (1/2N) sum_i ||W h_i + b - e_{y_i}||^2", lambda c: _terms(c, a=1.0 / c.dims["C"])),
    _m("decomp_ridge_factor", "looks like the weight decay lam ||W||^2 without the factor 1/2 (the penalty is "
       "(lam/2)(||W||^2 + ||b||^2), whose gradient is lam W)", lambda c: _terms(c, lam_scale=2.0)),
    _m("decomp_ridge_factor", "looks like a weight decay of lam/2 in the normal equations: with the penalty "
       "(lam/2)||W||^2 and the data term (1/2N) sum ||.||^2 they read W (S + lam I) = (1/C) M", lambda c: _terms(c, lam_scale=0.5)),
    _m("decomp_nc1_without_ridge", "looks like L_NC1 without the weight decay paid at the optimum: Han et al.'s "
       "L_NC1 is (1/2) tr(W_LS (Sigma_W + lam I) W_LS^T), bias included", lambda c: _terms(c, nc1="no_ridge")),
    _m("decomp_nc1_total_covariance", "looks like L_NC1 with the total covariance (deviations from the global mean); "
       "it uses the within-class covariance Sigma_W (deviations from each class mean)", lambda c: _terms(c, nc1="total")),
    _m("decomp_nc23_not_averaged", "looks like L_NC2/3 summed over the classes without the 1/C: each class mean "
       "stands for the 1/C of the samples in its class", lambda c: _terms(c, nc23="sum")),
    _m("decomp_perp_unweighted", "looks like L_perp as (1/2)||[W b] - [W_LS b_LS]||^2: the excess of the loss weighs "
       "the difference by the Hessian, (1/2) tr(D (S + lam I) D^T) with S the second moment of (h, 1), which is "
       "L(W, b) - L(W_LS, b_LS)", lambda c: _terms(c, perp="unweighted")),
    _m("decomp_ignores_bias", "looks like a model without a bias (b = 0 in the fit and in the loss); the classifier "
       "is (W, b) and the minimiser has a bias too", lambda c: _terms(c, bias=False)),
)


def exercises() -> list[Exercise]:
    """The chapter's exercises (one): ``loss_decomposition``."""
    return [
        Exercise(
            name="loss_decomposition",
            signature="loss_decomposition(H, y, W, b, lam) -> array of shape (3,)",
            description="[L_NC1, L_NC2/3, L_perp] of L(W, b) = (1/2N) sum_i ||W h_i + b - e_{y_i}||^2 + (lam/2)(||W||^2 "
                        "+ ||b||^2), with (W_LS, b_LS) its minimiser on these features: L_NC1 = (1/2) tr(W_LS Sigma_W "
                        "W_LS^T) + (lam/2)(||W_LS||^2 + ||b_LS||^2), L_NC2/3 = (1/2C) sum_c ||W_LS mu_c + b_LS - e_c||^2, "
                        "L_perp = L(W, b) - L(W_LS, b_LS). " + _ARGS,
            arg_names=("H", "y", "W", "b", "lam"),
            make_cases=_cases,
            shape=(3,),
            reference=_terms,
            variants=_VARIANTS,
            diagnose=_wrong_order,
            properties=(_negative,),
            shape_hints=(_ShapeHint((), "wrong_shape", "one number, perhaps the total loss; return the three terms "
                                    "[L_NC1, L_NC2/3, L_perp]"),
                         _ShapeHint(("C", "p"), "wrong_shape", "a (C, p) matrix, perhaps W_LS itself; return the "
                                    "three terms of the loss")),
            other_codes=("decomp_wrong_order",),
        ),
    ]
