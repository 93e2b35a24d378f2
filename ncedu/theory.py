r"""The two propositions behind neural collapse, as small exact tools.

* **Proposition 1** (Webb & Lowe 1990): on fixed features, the classifier that minimises the
  one-hot mean squared error is ``W = (1/C) M^T Sigma_T^+`` (paper's column convention), i.e. a
  linear discriminant. :func:`webb_lowe_classifier` computes it. Under NC1 + NC2 it becomes
  proportional to the centred class means (self-duality, NC3).
* **Proposition 2** (Soudry, Hoffer, Nacson, Gunasekar & Srebro 2018): gradient descent on the
  logistic loss of linearly separable data diverges in norm (``||w_t|| ~ log t``) and converges
  in *direction* to the hard-margin SVM, at the slow rate ``O(1 / log t)``.
  :func:`gradient_descent_logistic`, :func:`max_margin_direction`, :func:`margin` and
  :func:`angle_between` let a reader watch it happen.
* :func:`max_separation_on_sphere` spreads ``C`` points on the unit sphere as far apart as
  possible; for ``dim >= C - 1`` it lands on a simplex ETF, the configuration of NC2.

Conventions are those of :mod:`ncedu.metrics`: features ``h_i`` are the rows of an (N, p)
matrix, ``mu_G`` is the sample mean, ``M`` is the (C, p) matrix with rows ``mu_c - mu_G`` and
``W`` has one row per class (as ``torch.nn.Linear.weight``). Everything here is float64 numpy.

References
----------
A. R. Webb, D. Lowe, "The optimised internal representation of multilayer classifier networks
performs nonlinear discriminant analysis", Neural Networks 3(4):367–375, 1990.

D. Soudry, E. Hoffer, M. S. Nacson, S. Gunasekar, N. Srebro, "The implicit bias of gradient
descent on separable data", JMLR 19(70):1–57, 2018.

V. Papyan, X. Y. Han, D. L. Donoho, "Prevalence of neural collapse during the terminal phase
of deep learning training", PNAS 117(40):24652–24663, 2020 (Propositions 1 and 2).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

from ._validation import as_tensor, check_features, check_labels, check_num_classes

__all__ = [
    "webb_lowe_classifier",
    "LogisticPath",
    "gradient_descent_logistic",
    "max_margin_direction",
    "margin",
    "gradient_descent_cross_entropy",
    "max_margin_multiclass",
    "multiclass_margin",
    "angle_between",
    "max_separation_on_sphere",
]


# ----------------------------------------------------------------------------------------------
# Input helpers
# ----------------------------------------------------------------------------------------------



def _sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + e^{-x}), computed without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _scipy_nnls():
    """scipy's non-negative least squares, imported on use (scipy is an optional dependency)."""
    try:
        from scipy.optimize import nnls
    except ImportError:
        raise ImportError("max_margin_direction needs scipy: pip install scipy") from None
    return nnls

def _matrix(x: Any, name: str) -> np.ndarray:
    """A validated (N, d) float64 numpy copy of ``x``."""
    return check_features(x, name).to("cpu", torch.float64).numpy()


def _vector(x: Any, name: str, dim: Optional[int] = None) -> np.ndarray:
    v = as_tensor(x, name).to("cpu")
    if v.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector, got shape {tuple(v.shape)}")
    if dim is not None and v.shape[0] != dim:
        raise ValueError(f"{name} has length {v.shape[0]} but must have length {dim} (the number of columns of X)")
    if v.is_complex() or v.dtype == torch.bool:
        raise TypeError(f"{name} must be a real vector, got dtype {v.dtype}")
    v = v.to(torch.float64).numpy()
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or infinite values; all entries must be finite")
    return v


def _binary_labels(y: Any, n_samples: int, name: str = "y") -> np.ndarray:
    """Binary labels in {0, 1} or {-1, +1}, returned as float64 signs in {-1, +1}.

    Both classes must occur; 0 and -1 both mean the negative class, so mixing {-1, 0, 1} is an error.
    """
    t = as_tensor(y, name).to("cpu")
    if t.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of binary labels, got shape {tuple(t.shape)}")
    if t.shape[0] != n_samples:
        raise ValueError(f"{name} has length {t.shape[0]} but X has {n_samples} rows; they must match")
    if t.is_complex():
        raise TypeError(f"{name} must be real binary labels, got dtype {t.dtype}")
    v = t.to(torch.float64).numpy()
    values = set(np.unique(v).tolist())
    if not (values <= {0.0, 1.0} or values <= {-1.0, 1.0}):
        shown = sorted(values)[:6]
        raise ValueError(
            f"{name} must hold binary labels, either in {{0, 1}} or in {{-1, +1}}; found values {shown}"
            " (these tools are for two classes)"
        )
    if len(values) < 2:
        raise ValueError(f"{name} holds only one class ({sorted(values)}); a separator needs at least 2 classes")
    return np.where(v > 0, 1.0, -1.0)


# ----------------------------------------------------------------------------------------------
# Proposition 1: the Webb–Lowe classifier
# ----------------------------------------------------------------------------------------------


def webb_lowe_classifier(
    features: Any,
    labels: Any,
    *,
    weighting: str = "balanced",
    rcond: Optional[float] = None,
    ridge: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The MSE-optimal linear classifier on fixed features (Webb & Lowe 1990; Proposition 1 of the paper).

    Orientation: the paper stores the centred means as the *columns* of a (p, C) matrix ``M``
    and the classifier as a (C, p) matrix ``W`` whose rows ``w_c`` are the class weights. Here ``W`` is
    the same (C, p) matrix, one **row** per class (as ``torch.nn.Linear.weight`` stores it and as
    :func:`ncedu.measure` expects), but ``M`` is (C, p) with **rows** ``mu_c - mu_G`` (as everywhere
    in ``ncedu``), so the paper's ``M^T`` is our ``M``:

    .. math::

        \text{paper } (M \text{ is } p\times C)\text{: } W = \tfrac{1}{C} M^\top \Sigma_T^{\dagger}
        \qquad\Longleftrightarrow\qquad
        \text{here } (M \text{ is } C\times p)\text{: } W = \tfrac{1}{C} M \Sigma_T^{\dagger} \in \mathbb{R}^{C\times p},
        \qquad b = \tfrac{1}{C}\mathbf{1} - W \mu_G ,

    with ``mu_G = (1/N) sum_i h_i`` the sample mean and
    ``Sigma_T = (1/N) sum_i (h_i - mu_G)(h_i - mu_G)^T``.

    Derivation (one line): for the loss ``(1/2N) sum_i ||W h_i + b - e_{y_i}||^2`` the optimal
    bias is ``b = pi - W mu_G`` with ``pi`` the class frequencies ``n_c / N``; then the normal
    equations read ``W Sigma_T = (1/N) sum_i e_{y_i} (h_i - mu_G)^T = diag(pi) M``. So the
    minimum-norm minimiser is

    .. math::

        W = \operatorname{diag}(\pi)\, M\, \Sigma_T^{\dagger}, \qquad b = \pi - W\mu_G ,

    which is the paper's formula exactly when the classes are balanced (``pi = 1/C``).

    Parameters
    ----------
    features : array or tensor of shape (N, p)
        Fixed (e.g. penultimate-layer) features ``h_i``.
    labels : array or tensor of shape (N,)
        Integer class indices ``0..C-1``; every class must occur, ``C >= 2``.
    weighting : {"balanced", "frequency"}
        ``"balanced"`` (default): the paper's formula with weight ``1/C`` per class. On
        imbalanced classes this is *not* the MSE minimiser; a ``UserWarning`` says so.
        ``"frequency"``: rows weighted by ``n_c / N`` and ``b = pi - W mu_G``, the exact
        minimum-norm least-squares solution for any class sizes (equal to ``"balanced"`` when
        the classes are balanced).
    rcond : float, optional
        Relative tolerance of the pseudo-inverse. ``Sigma_T^+`` is computed from the SVD of the
        centred features ``(H - mu_G) / sqrt(N) = U diag(s) V^T`` as ``V diag(s^-2) V^T`` over the
        singular values ``s > rcond * max(s_max, ||H||_2 / sqrt(N))``: relative to the larger of
        the centred and the *uncentred* data, because centring features that sit far from the
        origin leaves rounding errors of the size of ``eps ||H||``, which must not be inverted. The
        default ``max(N, p) * eps`` is the relative tolerance of ``numpy.linalg.matrix_rank``. ``Sigma_T`` is rank-deficient whenever ``p >= N`` or features
        are collinear (e.g. duplicated columns); ``W`` then lies in the span of the centred data,
        which makes it the minimum-norm minimiser.
    ridge : float, default 0
        ``lambda >= 0``. With ``lambda > 0``, the minimiser of the MSE plus ``(lambda / 2) ||W||_F^2``
        in the normalisation of the derivation above (the bias unpenalised):

        .. math::

            W_\lambda = \operatorname{diag}(w)\, M \left(\Sigma_T + \lambda I\right)^{-1}, \qquad
            b = w - W_\lambda \mu_G ,

        with ``w`` the class weights (``1/C`` balanced, ``pi`` by frequency). Training with
        ``ncedu.train(loss="mse", weight_decay=omega)`` minimises the mean over all ``N C`` squared
        entries plus ``(omega / 2) ||W||^2``, which is this problem with ``lambda = C omega / 2``.
        Unlike the pseudo-inverse, ``W_lambda`` depends continuously on the features, so it stays
        self-dual as NC1 -> 0 (chapter 7 of the book shows why that matters).

    Returns
    -------
    W : numpy.ndarray of shape (C, p), float64
        One row per class.
    b : numpy.ndarray of shape (C,), float64

    Raises
    ------
    ValueError
        Bad shapes, non-finite features, labels that skip a class, fewer than 2 classes, or an
        unknown ``weighting``.

    Warns
    -----
    UserWarning
        ``weighting="balanced"`` on imbalanced classes.

    References
    ----------
    Webb & Lowe (1990), Neural Networks 3(4); Papyan, Han & Donoho (2020), PNAS, Proposition 1.

    Examples
    --------
    >>> from ncedu import simplex_etf
    >>> means = simplex_etf(3, 4)
    >>> H, y = np.repeat(means, 5, axis=0), np.repeat(np.arange(3), 5)
    >>> W, b = webb_lowe_classifier(H, y)
    >>> bool(np.allclose(W / np.linalg.norm(W), means / np.linalg.norm(means)))
    True
    """
    if weighting not in ("balanced", "frequency"):
        raise ValueError(f"weighting must be 'balanced' or 'frequency', got {weighting!r}")
    H = _matrix(features, "features")
    y_t, C = check_labels(labels, H.shape[0])
    y = y_t.cpu().numpy()
    N, p = H.shape
    counts = np.bincount(y, minlength=C).astype(np.float64)
    pi = counts / N
    if weighting == "balanced":
        if np.any(counts != counts[0]):
            warnings.warn(
                f"the classes are imbalanced (sizes from {int(counts.min())} to {int(counts.max())}): the paper's "
                "W = (1/C) M Sigma_T^+ is the MSE optimum only for balanced classes; use weighting='frequency' "
                "for the least-squares classifier on these data",
                UserWarning,
                stacklevel=2,
            )
        weights = np.full(C, 1.0 / C)
    else:
        weights = pi

    mu_G = H.mean(axis=0)
    Hc = H - mu_G
    means = np.zeros((C, p))
    np.add.at(means, y, H)
    means /= counts[:, None]
    M = means - mu_G

    _, s, Vh = np.linalg.svd(Hc / math.sqrt(N), full_matrices=False)
    if rcond is None:
        rcond = max(N, p) * np.finfo(np.float64).eps
    elif not (rcond >= 0.0):
        raise ValueError(f"rcond must be a non-negative number, got {rcond}")
    # rounding errors of the centring scale with the uncentred data, not with the centred spread
    reference = max(s[0], np.linalg.norm(H, 2) / math.sqrt(N)) if s.size else 0.0
    keep = s > rcond * reference if s.size and s[0] > 0 else np.zeros(s.shape, dtype=bool)
    if not (np.isfinite(ridge) and ridge >= 0.0):
        raise ValueError(f"ridge must be a non-negative finite number, got {ridge}")
    V, s = Vh[keep], s[keep]  # (k, p), (k,)
    # W = diag(weights) M V diag(1 / (s^2 + ridge)) V^T  (never forms a (p, p) matrix). The rows of M
    # are averages of centred features, so they lie in the span of V and the (1/ridge) part of
    # (Sigma_T + ridge I)^{-1} on the orthogonal complement never contributes.
    W = ((weights[:, None] * M) @ V.T / (s**2 + ridge)) @ V
    b = (weights if weighting == "balanced" else pi) - W @ mu_G
    return W, b


# ----------------------------------------------------------------------------------------------
# Proposition 2: gradient descent on separable data and the max-margin separator
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LogisticPath:
    """Recorded iterates of gradient descent on the logistic loss (all float64 numpy).

    Attributes
    ----------
    steps : (K,) int array
        The recorded iteration numbers ``t`` (``w_t`` is the weight after ``t`` updates).
    directions : (K, d) array, or (K, C, d) for :func:`gradient_descent_cross_entropy`
        ``w_t / ||w_t||`` (NaN rows where ``w_t = 0``).
    norms : (K,) array
        ``||w_t||``.
    losses : (K,) array
        ``(1/N) sum_i log(1 + exp(-y_i w_t . x_i))`` (the cross-entropy for C classes).
    weights : (d,) array, or (C, d)
        The final iterate ``w_T``.
    lr : float
        The step size used.
    """

    steps: np.ndarray
    directions: np.ndarray
    norms: np.ndarray
    losses: np.ndarray
    weights: np.ndarray
    lr: float


def _logistic_loss(margins: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0.0, -margins)))


def gradient_descent_logistic(
    X: Any,
    y: Any,
    *,
    steps: int,
    lr: Optional[float] = None,
    record_every: Optional[int] = None,
    record_at: Optional[Sequence[int]] = None,
) -> LogisticPath:
    r"""Full-batch gradient descent on the logistic loss of a homogeneous linear separator.

    Runs, from ``w_0 = 0``,

    .. math::

        w_{t+1} = w_t - \eta \nabla L(w_t), \qquad
        L(w) = \frac{1}{N}\sum_{i=1}^N \log\bigl(1 + e^{-y_i w^\top x_i}\bigr), \qquad
        \nabla L(w) = -\frac{1}{N}\sum_i \sigma(-y_i w^\top x_i)\, y_i x_i ,

    with no bias (a separator through the origin), exactly the setting of Soudry et al. (2018,
    Theorem 3): on linearly separable data and for ``eta < 2 / beta`` with ``beta`` the smoothness
    of ``L``, ``||w_t||`` grows like ``log t`` and ``w_t / ||w_t||`` converges to the hard-margin
    SVM direction (:func:`max_margin_direction`), the angle shrinking only like ``1 / log t``.
    Deterministic (no randomness anywhere).

    Parameters
    ----------
    X : array of shape (N, d)
        Samples as rows (add a constant column yourself if you want a bias).
    y : array of shape (N,)
        Binary labels in ``{0, 1}`` or ``{-1, +1}``; both classes must occur.
    steps : int
        Number of updates ``T >= 1``.
    lr : float, optional
        Step size ``eta > 0``. Default ``1 / beta`` with ``beta = ||X||_2^2 / (4N)``, an upper bound on
        the largest eigenvalue of the Hessian of ``L`` (so the default is inside Soudry et al.'s
        condition ``eta < 2 / beta``).
    record_every : int, optional
        Record ``w_t`` at ``t = record_every, 2 record_every, ..., steps`` (default ``max(1, steps // 100)``).
    record_at : sequence of int, optional
        Explicit iteration numbers in ``1..steps`` to record instead (e.g. log-spaced ones, to see the
        ``log t`` behaviour); overrides ``record_every``.

    Returns
    -------
    LogisticPath
        Steps, directions, norms and losses at the recorded iterations, and the final ``w``.

    References
    ----------
    Soudry, Hoffer, Nacson, Gunasekar & Srebro (2018), JMLR 19, Theorem 3; Papyan, Han & Donoho (2020),
    Proposition 2.
    """
    Xm = _matrix(X, "X")
    s = _binary_labels(y, Xm.shape[0])
    N = Xm.shape[0]
    steps, rec = _record_steps(steps, record_every, record_at)
    lr = _default_lr(lr, Xm, 0.25)
    Z = s[:, None] * Xm  # rows y_i x_i
    return _descend(
        np.zeros(Xm.shape[1]), lambda w: -(_sigmoid(-(Z @ w)) @ Z) / N, lambda w: _logistic_loss(Z @ w), lr, steps, rec
    )


def _default_lr(lr: Optional[float], X: np.ndarray, curvature: float) -> float:
    """``lr``, or ``1 / beta`` with ``beta = curvature * ||X||_2^2 / N``, a bound on the loss's smoothness."""
    if lr is None:
        beta = curvature * np.linalg.norm(X, 2) ** 2 / X.shape[0]
        if beta == 0:
            raise ValueError("X is all zeros; there is nothing to separate")
        return 1.0 / beta
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr}")
    return float(lr)


def _descend(w: np.ndarray, gradient: Any, loss: Any, lr: float, steps: int, rec: np.ndarray) -> LogisticPath:
    """``w <- w - lr * gradient(w)`` for ``steps`` steps, recording at the iterations ``rec``."""
    dirs, norms, losses = [], [], []
    j = 0
    for t in range(1, steps + 1):
        w = w - lr * gradient(w)
        if t == rec[j]:
            nrm = float(np.linalg.norm(w))
            dirs.append(w / nrm if nrm > 0 else np.full_like(w, np.nan))
            norms.append(nrm)
            losses.append(loss(w))
            j += 1
            if j == rec.size:
                break
    return LogisticPath(
        steps=rec, directions=np.array(dirs), norms=np.array(norms), losses=np.array(losses), weights=w, lr=float(lr)
    )


_NOT_SEPARABLE = (
    "the data are not linearly separable by a hyperplane through the origin (no w with y_i w.x_i > 0 "
    "for every i), so the hard-margin SVM without bias does not exist and gradient descent on the "
    "logistic loss does not converge in direction to a separator; add a constant feature for a bias, "
    "or remove the overlapping points"
)


def _least_distance(G: np.ndarray, not_feasible: str) -> np.ndarray:
    r"""The shortest ``w`` with ``G w >= 1`` (a least distance programme), exactly, via one NNLS.

    Lawson & Hanson (1974, ch. 23): with ``u >= 0`` minimising ``|| [G^T; 1^T] u - e_{d+1} ||`` and
    residual ``r``, the solution is ``w = -r[:d] / r[d]``; a zero residual means the constraints are
    infeasible, and then ``ValueError(not_feasible)`` is raised. ``G`` is rescaled first so that the
    tolerance is relative.
    """
    n, d = G.shape
    scale = float(np.abs(G).max())
    if scale == 0:
        raise ValueError(not_feasible)
    E = np.vstack([(G / scale).T, np.ones((1, n))])  # (d + 1, n)
    f = np.zeros(d + 1)
    f[d] = 1.0
    u, _ = _scipy_nnls()(E, f, maxiter=max(50 * n, 1000))
    r = E @ u - f
    if not (abs(r[d]) > 1e-12):
        raise ValueError(not_feasible)
    w = -r[:d] / r[d] / scale
    if not np.linalg.norm(w) > 0:
        raise ValueError(not_feasible)
    return w


def max_margin_direction(X: Any, y: Any) -> tuple[np.ndarray, float]:
    r"""The hard-margin SVM direction through the origin (no bias), and its margin.

    Solves

    .. math::

        \hat w = \arg\min_w \tfrac12\|w\|^2 \quad\text{s.t.}\quad y_i\, w^\top x_i \ge 1 \ (i = 1..N),

    and returns ``u = w_hat / ||w_hat||`` with the margin ``gamma = 1 / ||w_hat|| = min_i y_i u . x_i``.
    This is the limit direction of gradient descent on the logistic loss (Soudry et al. 2018).

    The solver is exact up to rounding and needs no tuning: the problem is a *least distance
    programme* (minimise ``||w||`` subject to ``G w >= h`` with ``G`` the rows ``y_i x_i`` and
    ``h = 1``), which Lawson & Hanson (1974, ch. 23) reduce to one non-negative least-squares
    problem: with ``u >= 0`` minimising ``|| [G^T; 1^T] u - e_{d+1} ||`` (``scipy.optimize.nnls``) and
    residual ``r``, the solution is ``w = -r[:d] / r[d]``; a zero residual means the constraints
    are infeasible, i.e. the data are **not** linearly separable through the origin. The
    multipliers ``u / r[d]`` are the dual variables (non-zero on the support vectors).

    Parameters
    ----------
    X : array of shape (N, d)
    y : array of shape (N,)
        Binary labels in ``{0, 1}`` or ``{-1, +1}``; both classes must occur.

    Returns
    -------
    direction : numpy.ndarray of shape (d,)
        Unit vector ``u``.
    margin : float
        ``min_i y_i u . x_i > 0``.

    Raises
    ------
    ValueError
        If the data are not linearly separable by a hyperplane through the origin (no ``w`` with
        ``y_i w . x_i > 0`` for all ``i``), or on bad input.

    References
    ----------
    Soudry et al. (2018), JMLR 19 (the limit direction); C. L. Lawson & R. J. Hanson, *Solving Least
    Squares Problems*, 1974, ch. 23 (LDP via NNLS).
    """
    Xm = _matrix(X, "X")
    s = _binary_labels(y, Xm.shape[0])
    G = s[:, None] * Xm  # (N, d)
    w = _least_distance(G, _NOT_SEPARABLE)
    direction = w / np.linalg.norm(w)
    gamma = float(np.min(G @ direction))
    if not gamma > 0:
        raise ValueError(_NOT_SEPARABLE)
    return direction, gamma


def margin(X: Any, y: Any, w: Any) -> float:
    r"""The (normalised) margin of the homogeneous separator ``w``: ``min_i y_i w^T x_i / ||w||``.

    Positive iff ``w`` separates the data through the origin; the hard-margin SVM direction maximises it.

    Parameters
    ----------
    X : array of shape (N, d)
    y : array of shape (N,)
        Binary labels in ``{0, 1}`` or ``{-1, +1}``.
    w : array of shape (d,)
        A non-zero weight vector.
    """
    Xm = _matrix(X, "X")
    s = _binary_labels(y, Xm.shape[0])
    wv = _vector(w, "w", Xm.shape[1])
    nrm = float(np.linalg.norm(wv))
    if nrm == 0:
        raise ValueError("w is the zero vector; its margin is undefined")
    return float(np.min(s * (Xm @ wv)) / nrm)


def angle_between(u: Any, v: Any) -> float:
    r"""The angle in radians, in ``[0, pi]``, between two non-zero vectors.

    Computed as ``2 atan2(||u' - v'||, ||u' + v'||)`` with ``u' = u/||u||`` and ``v' = v/||v||``, which
    stays accurate for tiny angles (``arccos`` of the cosine loses half the digits there).
    """
    a = _vector(u, "u")
    b = _vector(v, "v", a.shape[0])
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        raise ValueError("angle_between needs two non-zero vectors; got a zero vector")
    a, b = a / na, b / nb
    return float(2.0 * math.atan2(np.linalg.norm(a - b), np.linalg.norm(a + b)))


# ----------------------------------------------------------------------------------------------
# Proposition 2 for C classes: softmax cross-entropy and the multiclass hard-margin SVM
# ----------------------------------------------------------------------------------------------


def _multiclass(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, int]:
    Xm = _matrix(X, "X")
    labels, C = check_labels(y, Xm.shape[0], name="y")
    return Xm, labels.numpy(), C


def _cross_entropy(Z: np.ndarray, y: np.ndarray) -> float:
    """Mean of ``-log softmax(z_i)_{y_i}`` over the rows of the logits ``Z``, without overflow."""
    top = Z.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(Z - top).sum(axis=1))
    return float(np.mean(lse - Z[np.arange(len(y)), y]))


def _record_steps(steps: Any, record_every: Optional[int], record_at: Optional[Sequence[int]]) -> tuple[int, np.ndarray]:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    steps = int(steps)
    if record_at is not None:
        rec = np.unique(np.asarray(record_at, dtype=np.int64))
        if rec.size == 0 or rec[0] < 1 or rec[-1] > steps:
            raise ValueError(f"record_at must hold iteration numbers in 1..steps={steps}")
        return steps, rec
    every = max(1, steps // 100) if record_every is None else record_every
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ValueError(f"record_every must be a positive integer, got {record_every!r}")
    rec = np.arange(every, steps + 1, every, dtype=np.int64)
    if rec.size == 0 or rec[-1] != steps:
        rec = np.append(rec, steps)
    return steps, rec


def gradient_descent_cross_entropy(
    X: Any,
    y: Any,
    *,
    steps: int,
    lr: Optional[float] = None,
    record_every: Optional[int] = None,
    record_at: Optional[Sequence[int]] = None,
) -> LogisticPath:
    r"""Full-batch gradient descent on softmax cross-entropy of a homogeneous linear classifier.

    Runs, from ``W_0 = 0`` (a ``(C, d)`` matrix, one row per class),

    .. math::

        W_{t+1} = W_t - \eta \nabla L(W_t), \qquad
        L(W) = \frac1N \sum_{i=1}^N -\log \operatorname{softmax}(W x_i)_{y_i}, \qquad
        \nabla L(W) = \frac1N (P - Y)^\top X ,

    with ``P`` the softmax probabilities and ``Y`` the one-hot labels. This is the multiclass
    setting of Soudry et al. (2018, their multiclass extension): on data that some ``W`` classifies perfectly,
    ``||W_t||_F`` grows like ``log t`` and ``W_t / ||W_t||_F`` converges to the multiclass
    hard-margin SVM (:func:`max_margin_multiclass`). It is also what a network's last layer does
    on frozen features in the terminal phase, without bias and without weight decay.

    Parameters
    ----------
    X : array of shape (N, d)
    y : array of shape (N,)
        Integer labels in ``0..C-1``, every class present.
    steps, record_every, record_at :
        As in :func:`gradient_descent_logistic`.
    lr : float, optional
        Step size; default ``1 / beta`` with ``beta = ||X||_2^2 / (2N)``, an upper bound on the
        smoothness of ``L`` (the Hessian of log-sum-exp has norm at most 1/2).

    Returns
    -------
    LogisticPath
        With ``directions`` of shape ``(K, C, d)`` (``W_t / ||W_t||_F``), ``norms`` the Frobenius
        norms, ``losses`` the cross-entropy and ``weights`` the final ``(C, d)`` matrix.
    """
    Xm, labels, C = _multiclass(X, y)
    N = Xm.shape[0]
    steps, rec = _record_steps(steps, record_every, record_at)
    lr = _default_lr(lr, Xm, 0.5)
    Y = np.eye(C)[labels]

    def gradient(W: np.ndarray) -> np.ndarray:
        Z = Xm @ W.T
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        return (P / P.sum(axis=1, keepdims=True) - Y).T @ Xm / N

    return _descend(np.zeros((C, Xm.shape[1])), gradient, lambda W: _cross_entropy(Xm @ W.T, labels), lr, steps, rec)


def _pair_constraints(Xm: np.ndarray, labels: np.ndarray, C: int) -> np.ndarray:
    """Rows ``vec((e_{y_i} - e_c) x_i^T)`` for every sample ``i`` and every class ``c != y_i``."""
    N, d = Xm.shape
    i, c = np.nonzero(np.arange(C)[None, :] != labels[:, None])
    G = np.zeros((len(i), C, d))
    G[np.arange(len(i)), labels[i]] = Xm[i]
    G[np.arange(len(i)), c] = -Xm[i]
    return G.reshape(len(i), C * d)


def multiclass_margin(X: Any, y: Any, W: Any) -> float:
    r"""The normalised multiclass margin ``min_i min_{c != y_i} (w_{y_i} - w_c)^T x_i / ||W||_F``.

    Positive iff ``argmax_c w_c . x_i = y_i`` for every sample (with no ties); for two classes and
    ``W = [-w/2; w/2]`` it is ``sqrt(2) margin(X, y, w)`` (``w_1 - w_0 = w`` while ``||W||_F = ||w|| / sqrt(2)``).
    """
    Xm, labels, C = _multiclass(X, y)
    Wm = _matrix(W, "W")
    if Wm.shape != (C, Xm.shape[1]):
        raise ValueError(f"W must have shape (C, d) = {(C, Xm.shape[1])}, one row per class, got {Wm.shape}")
    nrm = float(np.linalg.norm(Wm))
    if nrm == 0:
        raise ValueError("W is the zero matrix; its margin is undefined")
    Z = Xm @ Wm.T
    own = Z[np.arange(len(labels)), labels]
    Z[np.arange(len(labels)), labels] = -np.inf
    return float(np.min(own - Z.max(axis=1)) / nrm)


def max_margin_multiclass(X: Any, y: Any) -> tuple[np.ndarray, float]:
    r"""The multiclass hard-margin SVM without bias (Crammer & Singer's), as a direction, and its margin.

    Solves

    .. math::

        \hat W = \arg\min_W \tfrac12\|W\|_F^2 \quad\text{s.t.}\quad
        (w_{y_i} - w_c)^\top x_i \ge 1 \quad (i = 1..N,\ c \ne y_i),

    exactly, as a least distance programme in ``C d`` unknowns with ``N (C - 1)`` constraints (one
    NNLS, as :func:`max_margin_direction`), and returns ``U = W_hat / ||W_hat||_F`` with the margin
    ``gamma = 1 / ||W_hat||_F`` (:func:`multiclass_margin` of ``U``). The rows of ``U`` sum to zero
    (adding a vector to every row changes no constraint, only the norm). This is the limit direction
    of :func:`gradient_descent_cross_entropy` (Soudry et al. 2018). For two classes it reduces to
    the binary SVM: ``u_1 - u_0`` is parallel to :func:`max_margin_direction`.

    Returns
    -------
    direction : numpy.ndarray of shape (C, d)
    margin : float

    Raises
    ------
    ValueError
        If no ``W`` classifies every sample correctly (``argmax_c w_c . x_i = y_i``), or on bad input.
    """
    Xm, labels, C = _multiclass(X, y)
    G = _pair_constraints(Xm, labels, C)
    not_separable = (
        "no linear classifier without bias classifies every sample correctly (no W with (w_{y_i} - w_c).x_i > 0 "
        "for all i and c != y_i), so the multiclass hard-margin SVM does not exist; add a constant feature for a "
        "bias, or remove the overlapping points"
    )
    W = _least_distance(G, not_separable).reshape(C, Xm.shape[1])
    U = W / np.linalg.norm(W)
    gamma = float(np.min(G @ U.ravel()))
    if not gamma > 0:
        raise ValueError(not_separable)
    return U, gamma


# ----------------------------------------------------------------------------------------------
# The simplex ETF as the best-separated configuration
# ----------------------------------------------------------------------------------------------


def max_separation_on_sphere(
    C: int,
    dim: int,
    steps: int = 3000,
    seed: Optional[int] = 0,
    *,
    sharpness: float = 4.0,
    lr: float = 0.1,
) -> np.ndarray:
    r"""Place ``C`` unit vectors in ``R^dim`` as far apart as possible, by projected gradient ascent.

    Maximises a smooth soft-min of the squared pairwise distances,

    .. math::

        \max_{\|x_i\| = 1} \; -\frac{1}{\beta}\log \sum_{i<j} e^{-\beta \|x_i - x_j\|^2 / 2}
        \quad\Longleftrightarrow\quad
        \min_{\|x_i\| = 1} \; \frac{1}{\beta}\log \sum_{i<j} e^{\beta \langle x_i, x_j\rangle}

    (``||x_i - x_j||^2 = 2 - 2 <x_i, x_j>`` on the sphere, so the two objectives differ by the
    constant 1), with ``beta`` = ``sharpness``; as ``beta`` grows the soft-min tends to the smallest
    squared distance. Each step moves along the Riemannian gradient (the Euclidean gradient
    projected onto the tangent space of the sphere) and renormalises the rows.

    Why it lands on a simplex ETF when ``dim >= C - 1``: ``sum_{i<j} <x_i, x_j> = (||sum_i x_i||^2 - C)/2
    >= -C/2``, so the average pairwise inner product is at least ``-1/(C-1)``, and by Jensen's inequality
    ``E = sum_{i<j} exp(beta <x_i, x_j>) >= (C(C-1)/2) exp(-beta/(C-1))``, with equality exactly when
    every inner product equals ``-1/(C-1)``, the simplex ETF (Papyan et al. 2020, Definition 1), which is then also the maximiser
    of the smallest pairwise distance ``sqrt(2C/(C-1))``. So for every ``beta > 0`` the smooth problem
    has the ETF as its exact optimum (no smoothing bias). For ``dim < C - 1`` no ETF exists and the result
    only approximates the best packing (better for larger ``sharpness``).

    Parameters
    ----------
    C : int
        Number of points, ``C >= 2``.
    dim : int
        Ambient dimension, ``dim >= 1``.
    steps : int
        Number of gradient steps.
    seed : int, optional
        Seed of the random starting points (standard Gaussian rows, normalised); the result is a
        deterministic function of the seed.
    sharpness : float
        ``beta > 0`` of the soft-min.
    lr : float
        Step size.

    Returns
    -------
    numpy.ndarray of shape (C, dim), float64
        Unit rows.

    Examples
    --------
    >>> from ncedu import etf_gram
    >>> X = max_separation_on_sphere(4, 3)
    >>> bool(np.allclose(X @ X.T, etf_gram(4), atol=1e-3))
    True
    """
    C = check_num_classes(C, "C")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if not (np.isfinite(sharpness) and sharpness > 0):
        raise ValueError(f"sharpness must be a positive finite number, got {sharpness}")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((C, int(dim)))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    off = ~np.eye(C, dtype=bool)
    beta = float(sharpness)
    for _ in range(int(steps)):
        G = X @ X.T
        A = np.where(off, np.exp(beta * (G - G[off].max())), 0.0)  # weights, shifted for stability
        A /= A.sum() / 2.0  # gradient of the soft-max (1/beta) log E: sum_j softmax weight * x_j
        grad = A @ X
        grad -= np.sum(grad * X, axis=1, keepdims=True) * X  # tangent part
        X = X - lr * grad
        X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X
