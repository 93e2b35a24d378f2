"""The exercises of the theory chapters (7–9), built on the machinery of :mod:`ncedu.exercises._engine`.

* ``webb_lowe_weights`` (chapter 7): ``W = (1/C) M Sigma_T^+`` (Proposition 1 of Papyan, Han &
  Donoho 2020, after Webb & Lowe 1990), in ncedu's row convention.
* ``logistic_gradient`` and ``normalized_margin`` (chapter 8): the two quantities behind
  Proposition 2 (Soudry et al. 2018).
* ``cross_entropy_feature_gradient`` (chapter 9): ``W^T (softmax(W h + b) - e_y)``, the pull of
  cross-entropy on a feature; its last hidden cases have scores of about +-1000, where a softmax
  without the max-subtraction overflows (and is named).

Every reference and every wrong variant here is plain numpy, independent of the library code the
chapters use (:mod:`ncedu.theory`), so a checker cannot agree with a bug there.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ._cases import _S, _cov, _labelled_data, _pinv_top, _stats
from ._engine import Exercise, _Case, _close, _Finding, _m, _ShapeHint

_HY_BALANCED = ("H: (N, p) float64 features; y: (N,) int labels in 0..C-1, every class with the same number of "
                "samples (the setting of Proposition 1), in no particular order.")
_XYW = ("X: (N, d) float64 samples; y: (N,) float64 labels, each -1.0 or +1.0; w: (d,) float64 weights "
        "(w != 0).")


# ----------------------------------------------------------------------------------------------
# Chapter 7: the Webb–Lowe classifier
# ----------------------------------------------------------------------------------------------

# (seed, classes, samples per class, p, offset, dead feature dimensions)
_WEBB_LOWE: tuple[tuple[int, int, int, int, float, int], ...] = (
    (301, 3, 8, 5, 30.0, 0),
    (302, 4, 10, 7, 50.0, 2),  # two dead (always zero) dimensions: Sigma_T is singular
    (303, 2, 12, 3, 20.0, 0),  # C = 2
    (304, 5, 6, 5, 0.0, 0),  # C = p, near the origin: a transposed W has the right shape
    (305, 10, 12, 16, 40.0, 3),  # C = 10, singular Sigma_T
    (306, 3, 30, 2, 100.0, 0),  # p = C - 1, far from the origin
)


def _webb_lowe_cases() -> list[_Case]:
    out = []
    for seed, C, n, p, offset, dead in _WEBB_LOWE:
        H, y, _ = _labelled_data(seed, (n,) * C, p, offset)
        if dead:
            H[:, np.random.default_rng(seed).choice(p, dead, replace=False)] = 0.0
        note = "balanced classes" + (", features far from the origin" if offset >= 20 else "")
        if dead:
            note += f", {dead} feature dimensions always zero (Sigma_T is singular)"
        out.append(_Case(args=(H, y), dims={"C": C, "p": p, "N": len(y)}, note=note, data={"H": H, "y": y}))
    return out


def _wl(case: _Case, *, means: str = "M", sigma: str = "T", ddof: int = 0, scale: Optional[float] = None,
        invert: bool = True) -> np.ndarray:
    """``scale * means @ pinv(Sigma)`` with the usual ingredients swapped for the common wrong ones."""
    s = _stats(case)
    N, C = s["N"], s["C"]
    S = {"T": _cov(s["T"], N - ddof), "W": _cov(s["R"], N), "B": _cov(s["M"], C), "raw": _cov(s["H"], N)}[sigma]
    return (1.0 / C if scale is None else scale) * s[means] @ (_pinv_top(S, S.shape[0]) if invert else S)


def _wl_transposed(case: _Case) -> Optional[np.ndarray]:
    W = _wl(case)
    return W.T if W.shape[0] == W.shape[1] else None


_WEBB_LOWE_VARIANTS = (
    _m("wl_missing_div_C", "looks like M Sigma_T^+ without the factor 1/C (for balanced classes each class has weight "
       "n_c/N = 1/C in the normal equations)", lambda c: _wl(c, scale=1.0)),
    _m("wl_divided_by_N", "looks like a division by N instead of C: the factor is 1/C, the weight of each (balanced) "
       "class", lambda c: _wl(c, scale=1.0 / _S(c, "N"))),
    _m("wl_uses_sigma_w", "looks like the within-class covariance Sigma_W in place of the total covariance Sigma_T "
       "(deviations from the global mean mu_G)", lambda c: _wl(c, sigma="W")),
    _m("wl_uses_sigma_b", "looks like the between-class covariance Sigma_B in place of the total covariance Sigma_T = "
       "Sigma_W + Sigma_B", lambda c: _wl(c, sigma="B")),
    _m("wl_sigma_t_not_centred", "looks like the second moment H^T H / N in place of Sigma_T: centre the features at "
       "the global mean mu_G first", lambda c: _wl(c, sigma="raw")),
    _m("wl_sigma_t_divided_by_n_minus_1", "looks like Sigma_T divided by N - 1 (np.cov's default); Sigma_T divides by N",
       lambda c: _wl(c, ddof=1)),
    _m("wl_uncentred_means", "looks like the class means mu_c in place of the centred means mu_c - mu_G",
       lambda c: _wl(c, means="mu")),
    _m("wl_no_inverse", "looks like M Sigma_T / C: Sigma_T must be (pseudo-)inverted", lambda c: _wl(c, invert=False)),
    _m("transposed", "looks like Sigma_T^+ M^T / C, the transpose: return one row w_c per class, W = M Sigma_T^+ / C "
       "with M's rows the centred means", _wl_transposed),
)

_SINGULAR_HINT = ("Sigma_T is singular in this case (some feature dimensions are always zero, as dead ReLU units are), "
                  "so it has no inverse; use the Moore-Penrose pseudo-inverse (np.linalg.pinv)")


def _webb_lowe_diagnose(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    """Right on the first case (Sigma_T invertible), wrong where Sigma_T is singular: not a pseudo-inverse.

    Cases are judged in order and the first has an invertible Sigma_T, so an answer that fails on
    a singular case handled the invertible one correctly.
    """
    s = _stats(case)
    if np.linalg.matrix_rank(_cov(s["T"], s["N"])) < s["p"]:
        return _Finding("wl_plain_inverse", "right where Sigma_T is invertible, wrong here: " + _SINGULAR_HINT
                        + ", which leaves the zero eigenvalues out instead of dividing by them (or by their rounding "
                        "errors)")
    return None


def _webb_lowe_error(err: Exception, case: _Case) -> Optional[_Finding]:
    if isinstance(err, np.linalg.LinAlgError):
        return _Finding("wl_plain_inverse", _SINGULAR_HINT)
    return None


# ----------------------------------------------------------------------------------------------
# Chapter 8: the logistic loss and the margin
# ----------------------------------------------------------------------------------------------

# (seed, N, d, scale of w, separable by w): the first cases have some points on the wrong side of w,
# so that every variant differs there; logits stay moderate (|y w.x| < 40) so a naive sigmoid is fine.
_LOGISTIC: tuple[tuple[int, int, int, float, bool], ...] = (
    (401, 12, 3, 1.0, False),
    (402, 20, 2, 0.5, False),
    (403, 9, 5, 2.0, True),
    (404, 30, 4, 0.2, True),
    (405, 6, 8, 1.5, False),  # d > N
    (406, 25, 1, 3.0, True),  # d = 1
)


def _logistic_cases() -> list[_Case]:
    out = []
    for seed, N, d, scale, separable in _LOGISTIC:
        rng = np.random.default_rng(seed)
        direction = rng.standard_normal(d)
        direction /= np.linalg.norm(direction)
        X = rng.standard_normal((N, d)) + 0.5 * direction
        y = np.where(X @ direction >= 0, 1.0, -1.0)
        if separable:  # push the points away from the separating hyperplane of `direction`
            X += 0.5 * y[:, None] * direction
        else:  # flip some labels so that w misclassifies them
            flip = rng.choice(N, max(1, N // 4), replace=False)
            y[flip] = -y[flip]
        w = scale * (direction + 0.3 * rng.standard_normal(d))
        note = ("w separates the data" if np.all(y * (X @ w) > 0) else "w misclassifies some points")
        out.append(_Case(args=(X, y, w), dims={"N": N, "d": d}, note=note, data={"X": X, "y": y, "w": w}))
    return out


# (seed, N, d, sign of the margins): a large w, so that the margins y_i w.x_i reach about 1e3 in
# size. "both": some hugely positive and some hugely negative (w misclassifies some points);
# "+": every margin large and positive; "-": every margin large and negative.
_LOGISTIC_LARGE: tuple[tuple[int, int, int, str], ...] = (
    (407, 14, 3, "both"),
    (408, 10, 4, "+"),
    (409, 8, 2, "-"),
)

#: The largest margin |y_i w.x_i| of the large cases: far beyond where exp overflows (about 709).
_LARGE_MARGIN = 1e3


def _logistic_large_cases() -> list[_Case]:
    out = []
    for seed, N, d, sign in _LOGISTIC_LARGE:
        rng = np.random.default_rng(seed)
        direction = rng.standard_normal(d)
        direction /= np.linalg.norm(direction)
        X = rng.standard_normal((N, d))
        X += (0.5 + rng.random(N))[:, None] * np.sign(X @ direction)[:, None] * direction  # away from the boundary
        y = np.sign(X @ direction)
        if sign == "both":
            flip = rng.choice(N, N // 3, replace=False)
            y[flip] = -y[flip]
        elif sign == "-":
            y = -y
        w = direction / np.abs(X @ direction).max() * _LARGE_MARGIN    # the largest |margin| is exactly 1e3
        note = {"both": "some margins y_i w.x_i near +1000 and some near -1000",
                "+": "every margin y_i w.x_i large and positive, up to 1000",
                "-": "every margin y_i w.x_i large and negative, down to -1000"}[sign]
        out.append(_Case(args=(X, y, w), dims={"N": N, "d": d}, note=note,
                         data={"X": X, "y": y, "w": w, "large": True}))
    return out


def _logistic_gradient_cases() -> list[_Case]:
    """The moderate cases of :func:`_logistic_cases`, then three with margins of size up to 1e3."""
    return _logistic_cases() + _logistic_large_cases()


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * t))


def _xyw(case: _Case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return case.data["X"], case.data["y"], case.data["w"]


def _logistic_gradient(case: _Case, *, weight: Any = None, label_in_weight: bool = True,
                       label_in_margin: bool = True, mean: bool = True) -> np.ndarray:
    """``-(1/N) sum_i weight(m_i) y_i x_i`` with ``m_i = y_i w.x_i``, and common changes to it."""
    X, y, w = _xyw(case)
    m = (y if label_in_margin else 1.0) * (X @ w)
    a = (weight or (lambda t: _sigmoid(-t)))(m) * (y if label_in_weight else 1.0)
    g = -(a @ X)
    return g / len(y) if mean else g


_LOGISTIC_GRADIENT_VARIANTS = (
    _m("logistic_grad_sum_not_mean", "looks like the gradient of the summed loss; L is the mean over the N samples, "
       "so divide by N", lambda c: _logistic_gradient(c, mean=False)),
    _m("logistic_grad_ascent", "looks like minus the gradient (the direction gradient descent moves in); return the "
       "gradient itself", lambda c: -_logistic_gradient(c)),
    _m("logistic_grad_wrong_sigmoid", "looks like sigmoid(+m_i) in place of sigmoid(-m_i): d/dm log(1 + e^{-m}) = "
       "-e^{-m}/(1 + e^{-m}) = -sigmoid(-m)", lambda c: _logistic_gradient(c, weight=_sigmoid)),
    _m("logistic_grad_missing_label", "looks like the chain rule lost the factor y_i: the margin m_i = y_i w.x_i has "
       "gradient y_i x_i", lambda c: _logistic_gradient(c, label_in_weight=False)),
    _m("logistic_grad_margin_without_label", "looks like the margins were computed as w.x_i without the label y_i",
       lambda c: _logistic_gradient(c, label_in_margin=False)),
    _m("logistic_grad_exponential_loss", "looks like the gradient of the exponential loss e^{-m}, not of the logistic "
       "loss log(1 + e^{-m})", lambda c: _logistic_gradient(c, weight=lambda t: np.exp(-t))),
)


_OVERFLOW = (
    "overflow: exp of a large margin (here |y_i w.x_i| reaches 1000, and np.exp overflows beyond about 709); "
    "use a stable form of sigma(-m) = 1/(1 + e^m), e.g. np.exp(-np.logaddexp(0, m)) or scipy.special.expit(-m), "
    "that never exponentiates a large positive number"
)


def _logistic_overflow(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    """inf or NaN on a case with huge margins: the naive sigmoid overflowed."""
    if case.data.get("large") and not np.all(np.isfinite(value)):
        return _Finding("logistic_grad_overflow", _OVERFLOW)
    return None


def _logistic_warning(caught: Any, case: _Case) -> Optional[_Finding]:
    """A RuntimeWarning (overflow, invalid value) from the student's numpy code: the naive sigmoid."""
    for w in caught:
        if issubclass(w.category, RuntimeWarning) and any(k in str(w.message) for k in ("overflow", "invalid")):
            return _Finding("logistic_grad_overflow", _OVERFLOW + f" (numpy warned: {str(w.message)[:80]})")
    return None


def _normalized_margin(case: _Case, *, reduce: Any = np.min, labels: bool = True, power: float = 1.0,
                       absolute: bool = False) -> float:
    X, y, w = _xyw(case)
    s = X @ w
    s = np.abs(s) if absolute else (y * s if labels else s)
    return float(reduce(s) / np.linalg.norm(w) ** power)


_MARGIN_VARIANTS = (
    _m("margin_not_normalised", "looks like min_i y_i w.x_i without the division by ||w||: the normalised margin does "
       "not change when w is rescaled", lambda c: _normalized_margin(c, power=0.0)),
    _m("margin_divided_by_squared_norm", "looks like a division by ||w||^2; divide by ||w|| (the distance of x to the "
       "hyperplane w.x = 0 is |w.x| / ||w||)", lambda c: _normalized_margin(c, power=2.0)),
    _m("margin_ignores_labels", "looks like min_i |w.x_i| / ||w||, the distance to the hyperplane whatever the side: "
       "the margin uses y_i w.x_i, which is negative for a misclassified point",
       lambda c: _normalized_margin(c, absolute=True)),
    _m("margin_missing_labels", "looks like min_i w.x_i / ||w|| without the labels y_i",
       lambda c: _normalized_margin(c, labels=False)),
    _m("margin_mean_not_min", "looks like the mean of y_i w.x_i / ||w||; the margin is the smallest one, set by the "
       "points closest to the hyperplane", lambda c: _normalized_margin(c, reduce=np.mean)),
    _m("margin_returned_index", "looks like the index of the sample with the smallest margin (np.argmin); return the "
       "margin itself (np.min)", lambda c: float(np.argmin(c.data["y"] * (c.data["X"] @ c.data["w"])))),
)


# ----------------------------------------------------------------------------------------------
# Chapter 9: the pull of cross-entropy on a feature
# ----------------------------------------------------------------------------------------------

# (seed, class counts, p): the first cases have logits of moderate size (|z| < 20 or so), so that
# every mistake of the formula is caught, and named, before the large scores come.
_CROSS_ENTROPY: tuple[tuple[int, tuple[int, ...], int], ...] = (
    (501, (4, 3, 5), 5),
    (502, (6, 6, 6, 6), 3),
    (503, (5, 7), 4),  # C = 2
    (504, (3, 3, 3, 3, 3), 5),  # C = p
    (505, (2, 4, 3, 5, 2, 3, 4, 2, 3, 2), 8),  # C = 10
)

#: The largest score |z| of the large-score cases: far beyond where float64's exp overflows
#: (z > 709.8) or underflows to 0 (z < -745.1), so that a softmax without the max-subtraction
#: returns inf/inf or 0/0.
_LARGE_SCORE = 1000.0

# (seed, class counts, p, kind): "spread" rescales W and b so that the scores run from -_LARGE_SCORE
# to +_LARGE_SCORE (a naive softmax overflows on the rows with large scores); "shift" gives all C
# scores of a sample a common offset of +-0.9 _LARGE_SCORE (half the samples each sign), so that a
# naive softmax overflows on some rows and underflows to 0/0 on the others, and subtracting the
# largest score of the whole matrix instead of each row's still underflows on the rows far below it.
_CROSS_ENTROPY_LARGE: tuple[tuple[int, tuple[int, ...], int, str], ...] = (
    (506, (4, 4, 4), 5, "spread"),
    (507, (5, 3, 4, 6), 6, "shift"),
)


def _moderate_classifier(seed: int, counts: tuple[int, ...], p: int) -> tuple[np.ndarray, ...]:
    H, y, centres = _labelled_data(seed, counts, p, 3.0)
    rng = np.random.default_rng(seed + 1000)
    W = 0.4 * (centres - centres.mean(0)) + 0.3 * rng.standard_normal(centres.shape)
    b = 0.5 * rng.standard_normal(len(counts))
    return H, y, W, b


def _large_score_case(seed: int, counts: tuple[int, ...], p: int, kind: str) -> tuple[np.ndarray, ...]:
    H, y, W, b = _moderate_classifier(seed, counts, p)
    if kind == "spread":  # rescale, then shift every score by one constant (through b): no softmax changes
        Z = H @ W.T + b
        s = 2 * _LARGE_SCORE / (Z.max() - Z.min())
        return H, y, s * W, s * b + (_LARGE_SCORE - s * Z.max())
    # "shift": a unit direction u, a classifier W0 orthogonal to it plus the common row u (which adds
    # u.h to every score of a sample and so leaves its softmax unchanged), and features moved by
    # +-0.9 _LARGE_SCORE along u.
    u = np.random.default_rng(seed + 2000).standard_normal(p)
    u /= np.linalg.norm(u)
    W0 = W - np.outer(W @ u, u)
    signs = np.where(np.arange(len(y)) % 2 == 0, 1.0, -1.0)
    H = H - np.outer(H @ u, u) + np.outer(0.9 * _LARGE_SCORE * signs, u)
    return H, y, W0 + u, b


def _cross_entropy_cases() -> list[_Case]:
    out = []
    specs = [(seed, counts, p, None) for seed, counts, p in _CROSS_ENTROPY] + list(_CROSS_ENTROPY_LARGE)
    for seed, counts, p, kind in specs:
        if kind is None:
            H, y, W, b = _moderate_classifier(seed, counts, p)
            note = f"{len(counts)} classes"
        else:
            H, y, W, b = _large_score_case(seed, counts, p, kind)
            note = f"{len(counts)} classes, very large scores W h + b (hundreds, of either sign)"
        dims = {"C": len(counts), "p": p, "N": len(y)}
        out.append(_Case(args=(H, y, W, b), dims=dims, note=note, data={"H": H, "y": y, "W": W, "b": b}))
    return out


def _softmax(Z: np.ndarray, axis: int = 1) -> np.ndarray:
    E = np.exp(Z - Z.max(axis=axis, keepdims=True))
    return E / E.sum(axis=axis, keepdims=True)


def _ce_gradient(case: _Case, *, bias: bool = True, probabilities: str = "softmax", onehot: float = 1.0,
                 divide: bool = False) -> np.ndarray:
    """Rows ``W^T (softmax(W h_i + b) - e_{y_i})``, and common changes to them."""
    H, y, W, b = (case.data[k] for k in ("H", "y", "W", "b"))
    Z = H @ W.T + (b if bias else 0.0)
    P = {"softmax": _softmax(Z), "logits": Z, "wrong_axis": _softmax(Z, axis=0)}[probabilities]
    E = np.eye(W.shape[0])[y]
    G = (P - onehot * E) @ W
    return G / len(y) if divide else G


_CE_VARIANTS = (
    _m("ce_grad_divided_by_N", "looks like the gradient of the mean loss over the batch (divided by N); each row is the "
       "gradient of that sample's own loss", lambda c: _ce_gradient(c, divide=True)),
    _m("ce_grad_wrong_sign", "looks like W^T (e_y - softmax), minus the gradient: the loss grows in the direction "
       "W^T (softmax - e_y)", lambda c: -_ce_gradient(c)),
    _m("ce_grad_missing_onehot", "looks like W^T softmax(W h + b) without the - e_{y_i}: the derivative of "
       "-log softmax_y with respect to the logits is softmax - e_y", lambda c: _ce_gradient(c, onehot=0.0)),
    _m("ce_grad_ignores_bias", "looks like the softmax of W h_i without the bias b", lambda c: _ce_gradient(c, bias=False)),
    _m("ce_grad_logits_not_softmax", "looks like the logits W h + b in place of their softmax (that is the gradient of "
       "a squared loss, not of cross-entropy)", lambda c: _ce_gradient(c, probabilities="logits")),
    _m("ce_grad_softmax_over_samples", "looks like the softmax was taken over the samples (axis=0); it runs over the C "
       "classes of each sample (axis=1)", lambda c: _ce_gradient(c, probabilities="wrong_axis")),
)


def _naive_softmax_rows(Z: np.ndarray, shift: Any) -> np.ndarray:
    """Which rows of ``exp(Z - shift) / sum(exp(Z - shift))`` are not finite (``shift`` 0: no max-subtraction)."""
    with np.errstate(all="ignore"):
        E = np.exp(Z - shift)
        P = E / E.sum(axis=1, keepdims=True)
    return ~np.all(np.isfinite(P), axis=1)


def _ce_large_scores(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    """Name a softmax that overflows: NaN or inf exactly in the rows where a naive softmax breaks."""
    if np.all(np.isfinite(value)):
        return None
    H, W, b = (case.data[k] for k in ("H", "W", "b"))
    Z = H @ W.T + b
    broken = ~np.all(np.isfinite(value), axis=1)
    if np.array_equal(broken, _naive_softmax_rows(Z, 0.0)):
        return _Finding("ce_grad_softmax_overflow", "NaN or inf where the scores W h + b are very large: np.exp "
                        "overflows to inf above about 709 and underflows to 0 below about -745, so exp(z) / "
                        "sum(exp(z)) gives inf/inf or 0/0. Subtract each row's largest score before "
                        "exponentiating (Z - Z.max(axis=1, keepdims=True)); the softmax does not change")
    if np.array_equal(broken, _naive_softmax_rows(Z, Z.max())):
        return _Finding("ce_grad_softmax_global_max", "NaN or inf on the samples whose scores are all far below "
                        "the largest score of the whole matrix: subtract each row's own largest score "
                        "(Z.max(axis=1, keepdims=True)), not one maximum for all samples (Z.max())")
    if np.abs(Z).max() > 700:
        return _Finding("not_finite", "the answer contains NaN or infinite values, on a case with very large "
                        "scores W h + b: make every step safe for scores of several hundred, of either sign "
                        "(exp of the scores minus each row's largest score)")
    return None


def _in_row_space_of_W(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    """Every row of the gradient is ``W^T v`` for some ``v``: it lies in the span of the classifier rows."""
    W = case.data["W"]
    Q, _ = np.linalg.qr(W.T)
    if not _close(value @ Q @ Q.T, value):
        return _Finding("ce_grad_not_in_row_space", "each row should be a combination W^T v of the classifier rows w_c "
                        "(the chain rule through the logits W h + b); yours leave that span")
    return None


# ----------------------------------------------------------------------------------------------
# The exercises
# ----------------------------------------------------------------------------------------------


def theory_exercises() -> list[Exercise]:
    """The exercises of chapters 7–9, in chapter order."""
    return [
        Exercise(
            name="webb_lowe_weights",
            signature="webb_lowe_weights(H, y) -> array of shape (C, p)",
            description="The weights of the MSE-optimal linear classifier (Proposition 1), W = (1/C) M Sigma_T^+ "
                        "with M the (C, p) centred class means (row c = mu_c - mu_G), Sigma_T = (1/N) sum_i "
                        "(h_i - mu_G)(h_i - mu_G)^T and ^+ the Moore-Penrose pseudo-inverse; row c is w_c. "
                        + _HY_BALANCED,
            arg_names=("H", "y"),
            make_cases=_webb_lowe_cases,
            shape=("C", "p"),
            reference=_wl,
            variants=_WEBB_LOWE_VARIANTS,
            diagnose=_webb_lowe_diagnose,
            explain_error=_webb_lowe_error,
            shape_hints=(_ShapeHint(("p", "p"), "wrong_shape", "a (p, p) matrix, perhaps Sigma_T^+ itself; W has one "
                                    "row per class"),),
            other_codes=("wl_plain_inverse",),
        ),
        Exercise(
            name="logistic_gradient",
            signature="logistic_gradient(X, y, w) -> array of shape (d,)",
            description="The gradient of the logistic loss L(w) = (1/N) sum_i log(1 + exp(-y_i w.x_i)) at w; some "
                        "hidden cases have margins y_i w.x_i of size up to 1000, of either sign. " + _XYW,
            arg_names=("X", "y", "w"),
            make_cases=_logistic_gradient_cases,
            shape=("d",),
            reference=_logistic_gradient,
            variants=_LOGISTIC_GRADIENT_VARIANTS,
            diagnose=_logistic_overflow,
            on_warning=_logistic_warning,
            other_codes=("logistic_grad_overflow",),
            shape_hints=(_ShapeHint(("N",), "wrong_shape", "one value per sample, perhaps the loss terms or their "
                                    "derivatives; the gradient has one entry per weight"),
                         _ShapeHint(("N", "d"), "wrong_shape", "one gradient per sample; L is their mean over the "
                                    "samples")),
        ),
        Exercise(
            name="normalized_margin",
            signature="normalized_margin(X, y, w) -> float",
            description="The normalised margin of the homogeneous linear classifier w: min_i y_i w.x_i / ||w|| (the "
                        "signed distance of the worst sample to the hyperplane w.x = 0; negative if w misclassifies a "
                        "sample). " + _XYW,
            arg_names=("X", "y", "w"),
            make_cases=_logistic_cases,
            reference=_normalized_margin,
            variants=_MARGIN_VARIANTS,
            shape_hints=(_ShapeHint(("N",), "wrong_shape", "one value per sample; the margin is the smallest of "
                                    "them"),),
        ),
        Exercise(
            name="cross_entropy_feature_gradient",
            signature="cross_entropy_feature_gradient(H, y, W, b) -> array of shape (N, p)",
            description="Row i is the gradient with respect to the feature h_i of that sample's own cross-entropy "
                        "loss -log softmax(W h_i + b)_{y_i}, i.e. W^T (softmax(W h_i + b) - e_{y_i}). H: (N, p) float64 "
                        "features; y: (N,) int labels in 0..C-1; W: (C, p) float64, one row per class; b: (C,) float64. "
                        "Some hidden cases have very large scores W h + b (hundreds, of either sign).",
            arg_names=("H", "y", "W", "b"),
            make_cases=_cross_entropy_cases,
            shape=("N", "p"),
            reference=_ce_gradient,
            variants=_CE_VARIANTS,
            diagnose=_ce_large_scores,
            properties=(_in_row_space_of_W,),
            shape_hints=(_ShapeHint(("C", "p"), "ce_grad_with_respect_to_W", "one row per class, like the gradient "
                                    "with respect to W; this exercise asks for the gradient with respect to each "
                                    "feature h_i"),
                         _ShapeHint(("p",), "wrong_shape", "a single vector, perhaps summed or averaged over the "
                                    "samples; return one row per sample"),
                         _ShapeHint(("N", "C"), "ce_grad_with_respect_to_logits", "that is the gradient with respect "
                                    "to the logits, softmax - e_y; multiply by W (the chain rule through W h + b)")),
            other_codes=("ce_grad_not_in_row_space", "ce_grad_softmax_overflow", "ce_grad_softmax_global_max"),
        ),
    ]


__all__ = ["theory_exercises"]
