r"""The exercise of the chapter "The unconstrained features model": its objective.

``ufm_objective(H, W, b, y, lambda_H, lambda_W, lambda_b)`` asks for

.. math::

    f(H, W, b) = \frac1N \sum_{i=1}^N -\log \operatorname{softmax}(W h_i + b)_{y_i}
    + \frac{\lambda_W}{2}\|W\|_F^2 + \frac{\lambda_H}{2N}\|H\|_F^2 + \frac{\lambda_b}{2}\|b\|^2,

the regularised cross-entropy of the unconstrained features model in the book's normalisation
(the feature decay per sample; Zhu et al., NeurIPS 2021, write :math:`\frac{\lambda_H}{2}\|H\|_F^2`),
which :func:`ncedu.theory.ufm_objective` evaluates and :func:`ncedu.theory.train_ufm` minimises.

The hidden cases have three different weight decays (so that swapping or dropping one shows), a
bias of its own (so that leaving it out of the scores or of the penalty shows), classes of different
sizes, ``C = 2``, ``C = p`` and ``C = 10``; the last two have scores of about +-1000, built so that
each unstable way of computing the log-sum-exp breaks on its own case: without any max-subtraction
``exp`` overflows on the first (NaN), subtracting one maximum for the whole matrix underflows to
``log 0`` on the rows far below it (-inf, also on the first), and the log of a softmax probability
underflows on the second, where some samples score 1000 below their best class (+inf).

The reference and every wrong variant are plain numpy written here, independently of
:mod:`ncedu.theory.ufm`, so the checker cannot share a mistake with the code the chapter uses.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ._engine import Exercise, _Case, _Finding, _m, _ShapeHint

__all__ = ["exercises"]

# (seed, class counts, p, (lambda_H, lambda_W, lambda_b)): moderate scores (|z| of a few units), three
# different decays, so that every mistake of the formula differs from the answer on the first case.
_MODERATE: tuple[tuple[int, tuple[int, ...], int, tuple[float, float, float]], ...] = (
    (801, (4, 3, 5), 5, (0.1, 0.05, 0.2)),
    (802, (6, 6, 6, 6), 3, (0.02, 0.11, 0.04)),  # balanced
    (803, (5, 7), 4, (0.15, 0.6, 0.25)),  # C = 2
    (804, (3, 3, 3, 3, 3), 5, (0.05, 0.2, 0.9)),  # C = p: H @ W runs, and is wrong
    (805, (2, 4, 3, 5, 2, 3, 4, 2, 3, 2), 8, (0.4, 0.03, 0.12)),  # C = 10
)

# (seed, class counts, p, decays, kind): scores built directly (see _large_case).
_LARGE: tuple[tuple[int, tuple[int, ...], int, tuple[float, float, float], str], ...] = (
    (806, (4, 4, 4), 5, (0.01, 0.02, 0.03), "spread"),
    (807, (5, 3, 4, 6), 6, (0.02, 0.01, 0.05), "far_below"),
)

#: The size of the large scores: exp overflows above about 709.8 and underflows to 0 below -745.1.
_LARGE_SCORE = 1000.0


def _moderate_case(seed: int, counts: tuple[int, ...], p: int, lam: tuple[float, float, float]) -> _Case:
    rng = np.random.default_rng(seed)
    C = len(counts)
    y = np.repeat(np.arange(C), counts)
    rng.shuffle(y)
    centres = rng.standard_normal((C, p))
    H = centres[y] + rng.standard_normal((len(y), p))
    W = 0.3 * centres + 0.3 * rng.standard_normal((C, p))
    b = rng.standard_normal(C)
    note = f"{C} classes" + ("" if len(set(counts)) == 1 else " of different sizes")
    return _make(H, W, b, y.astype(np.int64), lam, note)


def _large_case(seed: int, counts: tuple[int, ...], p: int, lam: tuple[float, float, float], kind: str) -> _Case:
    """Features and classifier whose scores ``H W^T + b`` are a chosen matrix ``Z`` of entries up to +-1000.

    ``W = s E Q^T`` with ``E = [I_C | 0]`` and a random rotation ``Q``, and ``H = [(Z - b)/s, r] Q^T``, so
    that ``H W^T + b = Z`` while ``H`` and ``W`` look like any other features and classifier.
    "spread": the best score of each row runs from -1000 to +1000 over the rows, the own class is the
    best by a few units (so a softmax probability never underflows); "far_below": every row's best
    score is near 300 and a third of the samples score 1000 below it on their own class.
    """
    rng = np.random.default_rng(seed)
    C = len(counts)
    N = sum(counts)
    y = np.repeat(np.arange(C), counts)
    rng.shuffle(y)
    rows = np.arange(N)
    if kind == "spread":
        top = np.linspace(-_LARGE_SCORE, _LARGE_SCORE, N)[rng.permutation(N)]
        Z = top[:, None] - rng.uniform(1.0, 5.0, (N, C))
        Z[rows, y] = top
    else:
        top = 300.0 + rng.uniform(-5.0, 5.0, N)
        Z = top[:, None] - rng.uniform(1.0, 5.0, (N, C))
        Z[rows, y] = top
        low = rows[rows % 3 == 0]
        Z[low, y[low]] = top[low] - _LARGE_SCORE
    b = rng.standard_normal(C)
    s = 8.0
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    E = np.zeros((C, p))
    E[:, :C] = np.eye(C)
    W = s * E @ Q.T
    X = np.hstack([(Z - b) / s, rng.standard_normal((N, p - C))])
    H = X @ Q.T
    words = {"spread": "scores W h + b from -1000 to +1000 across the samples",
             "far_below": "scores near +300, and some samples score 1000 below their best class on their own class"}
    return _make(H, W, b, y.astype(np.int64), lam, f"{C} classes, very large {words[kind]}", large=kind)


def _make(H: np.ndarray, W: np.ndarray, b: np.ndarray, y: np.ndarray, lam: tuple[float, float, float], note: str,
          large: Optional[str] = None) -> _Case:
    lambda_H, lambda_W, lambda_b = lam
    data = {"H": H, "W": W, "b": b, "y": y, "lambda_H": lambda_H, "lambda_W": lambda_W, "lambda_b": lambda_b}
    if large:
        data["large"] = large
    C, p = W.shape
    return _Case(args=(H, W, b, y, lambda_H, lambda_W, lambda_b), dims={"C": C, "p": p, "N": len(y)}, note=note,
                 data=data)


def _cases() -> list[_Case]:
    return [_moderate_case(*spec) for spec in _MODERATE] + [_large_case(*spec) for spec in _LARGE]


# ----------------------------------------------------------------------------------------------
# The reference and its wrong variants
# ----------------------------------------------------------------------------------------------


def _per_sample(Z: np.ndarray, y: np.ndarray, lse: str = "row_max", axis: int = 1) -> np.ndarray:
    """``-log softmax(Z)_y`` of every row, with the log-sum-exp computed stably or in a broken way."""
    rows = np.arange(len(y))
    with np.errstate(all="ignore"):
        if axis == 0:  # the softmax over the samples: column y_i's log-sum-exp
            top = Z.max(axis=0)
            column = top + np.log(np.exp(Z - top).sum(axis=0))
            return column[y] - Z[rows, y]
        if lse == "naive":
            return np.log(np.exp(Z).sum(axis=1)) - Z[rows, y]
        if lse == "global_max":
            top = Z.max()
            return top + np.log(np.exp(Z - top).sum(axis=1)) - Z[rows, y]
        top = Z.max(axis=1, keepdims=True)
        E = np.exp(Z - top)
        if lse == "log_softmax":  # log of the (stable) probability: underflows when p_y < 1e-308
            return -np.log((E / E.sum(axis=1, keepdims=True))[rows, y])
        return top[:, 0] + np.log(E.sum(axis=1)) - Z[rows, y]


def _objective(case: _Case, *, lse: str = "row_max", axis: int = 1, bias_in_scores: bool = True,
               transposed: bool = False, reduce: str = "mean", sign: float = 1.0, half: float = 0.5,
               squared: bool = True, feature_per_sample: bool = True, bias_penalty: bool = True,
               swap: bool = False, penalties: bool = True) -> Optional[float]:
    """The objective, and the usual ways of getting it wrong."""
    d = case.data
    H, W, b, y = d["H"], d["W"], d["b"], d["y"]
    lambda_H, lambda_W, lambda_b = d["lambda_H"], d["lambda_W"], d["lambda_b"]
    if swap:
        lambda_H, lambda_W = lambda_W, lambda_H
    if transposed:
        if W.shape[0] != W.shape[1]:
            return None
        Z = H @ W
    else:
        Z = H @ W.T
    if bias_in_scores:
        Z = Z + b
    losses = sign * _per_sample(Z, y, lse=lse, axis=axis)
    N, C = len(y), W.shape[0]
    data_term = {"mean": losses.mean(), "sum": losses.sum(), "entries": losses.sum() / (N * C)}[reduce]
    if not penalties:
        return float(data_term)
    size = (lambda A: float(np.sum(A * A))) if squared else (lambda A: float(np.sqrt(np.sum(A * A))))
    penalty = lambda_W * size(W) + lambda_H * size(H) / (N if feature_per_sample else 1)
    if bias_penalty:
        penalty += lambda_b * size(b)
    return float(data_term + half * penalty)


def _reference(case: _Case) -> float:
    return _objective(case)


_VARIANTS = (
    _m("ufm_feature_decay_not_per_sample", "looks like (lambda_H / 2) ||H||_F^2, Zhu et al.'s normalisation; in this "
       "book the feature decay is per sample, (lambda_H / (2N)) ||H||_F^2", lambda c: _objective(c, feature_per_sample=False)),
    _m("ufm_loss_summed_not_averaged", "looks like the cross-entropy summed over the samples; the data term is their "
       "mean (1/N) sum_i", lambda c: _objective(c, reduce="sum")),
    _m("ufm_loss_averaged_over_entries", "looks like the cross-entropy divided by N C, as if averaged over all entries "
       "of the (N, C) matrix of one-hot labels times log-probabilities; average over the N samples only",
       lambda c: _objective(c, reduce="entries")),
    _m("ufm_penalties_without_half", "looks like the weight decays without the factor 1/2: lambda ||W||_F^2 instead "
       "of (lambda / 2) ||W||_F^2 (and the same for H and b)", lambda c: _objective(c, half=1.0)),
    _m("ufm_norms_not_squared", "looks like the norms themselves in the weight decays; the penalties use squared "
       "norms, ||W||_F^2 = (W ** 2).sum()", lambda c: _objective(c, squared=False)),
    _m("ufm_scores_without_bias", "looks like the scores W h_i without the bias b; the softmax is of W h_i + b",
       lambda c: _objective(c, bias_in_scores=False)),
    _m("ufm_no_bias_penalty", "looks like the objective without the bias's weight decay (lambda_b / 2) ||b||^2",
       lambda c: _objective(c, bias_penalty=False)),
    _m("ufm_decays_swapped", "looks like lambda_H and lambda_W swapped: lambda_W multiplies ||W||_F^2 and lambda_H "
       "the features' ||H||_F^2 (divided by N)", lambda c: _objective(c, swap=True)),
    _m("ufm_data_term_only", "looks like the cross-entropy alone, without the three weight decays (what a run "
       "records as its training loss)", lambda c: _objective(c, penalties=False)),
    _m("ufm_softmax_over_samples", "looks like the softmax was taken over the samples (axis=0); it runs over the C "
       "classes of each sample (axis=1)", lambda c: _objective(c, axis=0)),
    _m("ufm_log_likelihood_not_negated", "looks like the mean log-probability of the true class without the minus "
       "sign; the cross-entropy is -log softmax(W h + b)_y, which is never negative", lambda c: _objective(c, sign=-1.0)),
    _m("ufm_W_transposed", "looks like the scores H @ W; W has one row per class, so the scores are H @ W.T",
       lambda c: _objective(c, transposed=True)),
)

_OVERFLOW = ("NaN where the scores W h + b are very large: np.exp overflows to inf above about 709, so log(sum(exp(z))) "
             "gives inf - inf. Subtract each row's largest score before exponentiating, "
             "m + log(sum(exp(z - m))) with m = Z.max(axis=1, keepdims=True) (or use scipy.special.logsumexp)")
_GLOBAL_MAX = ("-inf on a case whose rows have very different largest scores: subtracting one maximum for the whole "
               "matrix (Z.max()) sends every exponential of the rows far below it to 0 and log 0 = -inf; subtract each "
               "row's own largest score, Z.max(axis=1, keepdims=True)")
_LOG_SOFTMAX = ("inf on a case where some samples score 1000 below their best class: the softmax probability of the "
                "true class, about e^-1000, underflows to 0 and -log 0 = inf. Compute -log softmax(z)_y as "
                "logsumexp(z) - z_y instead of taking the log of a probability")


def _diagnose(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    """Name the unstable log-sum-exp behind a non-finite answer on a case with very large scores."""
    kind = case.data.get("large")
    v = float(value)
    if kind is None or np.isfinite(v):
        return None
    if kind == "spread":
        if v == -np.inf:
            return _Finding("ufm_logsumexp_global_max", _GLOBAL_MAX)
        return _Finding("ufm_logsumexp_overflow", _OVERFLOW)
    if v == np.inf:
        return _Finding("ufm_log_of_softmax_underflow", _LOG_SOFTMAX)
    return None


def _warning(caught: Any, case: _Case) -> Optional[_Finding]:
    """A NaN answer with numpy's overflow warning: the log-sum-exp without max-subtraction."""
    for w in caught:
        if issubclass(w.category, RuntimeWarning) and "overflow" in str(w.message):
            return _Finding("ufm_logsumexp_overflow", _OVERFLOW + f" (numpy warned: {str(w.message)[:80]})")
    return None


def _explain_error(err: Exception, case: _Case) -> Optional[_Finding]:
    text = str(err)
    if isinstance(err, ValueError) and ("matmul" in text or "shapes" in text or "aligned" in text):
        return _Finding("ufm_W_transposed", "W has one row per class (shape (C, p)) and H one row per sample (shape "
                        "(N, p)), so the scores are H @ W.T, of shape (N, C)")
    return None


def _non_negative_data(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    if float(value) < 0:
        return _Finding("negative_value", "the value is negative, but the objective is a cross-entropy plus squared "
                        "norms, and neither can be negative")
    return None


def exercises() -> list[Exercise]:
    """The exercise of the chapter on the unconstrained features model."""
    return [
        Exercise(
            name="ufm_objective",
            signature="ufm_objective(H, W, b, y, lambda_H, lambda_W, lambda_b) -> float",
            description="The objective of the unconstrained features model, (1/N) sum_i -log softmax(W h_i + b)_{y_i} "
                        "+ (lambda_W/2) ||W||_F^2 + (lambda_H/(2N)) ||H||_F^2 + (lambda_b/2) ||b||^2. H: (N, p) "
                        "float64 features; W: (C, p) float64, one row per class; b: (C,) float64; y: (N,) int labels "
                        "in 0..C-1; lambda_H, lambda_W, lambda_b: floats >= 0. Some hidden cases have very large "
                        "scores W h + b (about 1000, of either sign).",
            arg_names=("H", "W", "b", "y", "lambda_H", "lambda_W", "lambda_b"),
            make_cases=_cases,
            reference=_reference,
            variants=_VARIANTS,
            diagnose=_diagnose,
            on_warning=_warning,
            explain_error=_explain_error,
            properties=(_non_negative_data,),
            shape_hints=(
                _ShapeHint(("N",), "ufm_returned_per_sample_losses", "one value per sample, perhaps each sample's "
                           "cross-entropy; the objective is a single number, their mean plus the weight decays"),
                _ShapeHint(("N", "C"), "ufm_returned_matrix", "one row of C numbers per sample, perhaps the scores "
                           "or the log-probabilities; return the objective, a single number"),
            ),
            other_codes=("ufm_logsumexp_overflow", "ufm_logsumexp_global_max", "ufm_log_of_softmax_underflow",
                         "negative_value"),
        ),
    ]
