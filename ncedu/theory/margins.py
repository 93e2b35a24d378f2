"""Proposition 2 of Papyan, Han & Donoho (2020): gradient descent on separable data and the hard-margin SVM.

Binary (logistic loss, the SVM through the origin) and multiclass (softmax cross-entropy, the
Crammer–Singer SVM without bias), after Soudry, Hoffer, Nacson, Gunasekar & Srebro (2018). The
SVMs are solved exactly as least-distance programmes (one non-negative least-squares problem).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from .._validation import ArrayLike, check_labels

from ._inputs import _binary_labels, _matrix, _scipy_nnls, _sigmoid, _vector


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

    Examples
    --------
    >>> X = np.array([[2.0, 1.0], [1.0, 2.0], [4.0, 1.0], [-2.0, -1.0], [-1.0, -2.0]])
    >>> y = np.array([1, 1, 1, -1, -1])
    >>> path = gradient_descent_logistic(X, y, steps=1000, record_at=[10, 100, 1000])
    >>> path.steps.tolist(), path.directions.shape, path.weights.shape
    ([10, 100, 1000], (3, 2), (2,))
    >>> bool(np.all(np.diff(path.norms) > 0)), bool(np.all(np.diff(path.losses) < 0))
    (True, True)
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
    X: ArrayLike,
    y: ArrayLike,
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

    Examples
    --------
    The SVM direction of these points is ``(1, 1) / sqrt(2)`` (the constraints of ``(2, 1)`` and
    ``(1, 2)`` are symmetric and the others are slack), while the first step of gradient descent
    points along ``sum_i y_i x_i = (10, 7)``; the angle to the SVM closes slowly, as ``1 / log t``,
    while the norm grows by about the same amount per decade of steps, as ``log t``:

    >>> X = np.array([[2.0, 1.0], [1.0, 2.0], [4.0, 1.0], [-2.0, -1.0], [-1.0, -2.0]])
    >>> y = np.array([1, 1, 1, -1, -1])
    >>> path = gradient_descent_logistic(X, y, steps=10_000, record_at=[10, 100, 1000, 10_000])
    >>> u = np.array([1.0, 1.0]) / np.sqrt(2)
    >>> np.round([angle_between(d, u) for d in path.directions], 3)
    array([0.093, 0.048, 0.027, 0.016])
    >>> np.round(np.diff(path.norms), 2)
    array([1.02, 1.07, 1.08])
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


def max_margin_direction(X: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, float]:
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
        Samples as rows.
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

    Examples
    --------
    By the symmetry of the two closest points, the direction is ``(1, 1) / sqrt(2)`` and the
    margin ``3 / sqrt(2)``:

    >>> X = np.array([[2.0, 1.0], [1.0, 2.0], [4.0, 1.0], [-2.0, -1.0], [-1.0, -2.0]])
    >>> y = np.array([1, 1, 1, -1, -1])
    >>> u, gamma = max_margin_direction(X, y)
    >>> bool(np.allclose(u, [2 ** -0.5, 2 ** -0.5])), round(gamma, 6), round(3 / math.sqrt(2), 6)
    (True, 2.12132, 2.12132)
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


def margin(X: ArrayLike, y: ArrayLike, w: ArrayLike) -> float:
    r"""The (normalised) margin of the homogeneous separator ``w``: ``min_i y_i w^T x_i / ||w||``.

    Positive iff ``w`` separates the data through the origin; the hard-margin SVM direction maximises it.

    Parameters
    ----------
    X : array of shape (N, d)
        Samples as rows.
    y : array of shape (N,)
        Binary labels in ``{0, 1}`` or ``{-1, +1}``.
    w : array of shape (d,)
        A non-zero weight vector.

    Returns
    -------
    float
        In units of ``X``; negative when some sample is on the wrong side.

    Examples
    --------
    >>> X = np.array([[2.0, 1.0], [1.0, 2.0], [4.0, 1.0], [-2.0, -1.0], [-1.0, -2.0]])
    >>> y = np.array([1, 1, 1, -1, -1])
    >>> round(margin(X, y, [1.0, 1.0]), 6), round(margin(X, y, [1.0, 0.0]), 6)
    (2.12132, 1.0)
    """
    Xm = _matrix(X, "X")
    s = _binary_labels(y, Xm.shape[0])
    wv = _vector(w, "w", Xm.shape[1])
    nrm = float(np.linalg.norm(wv))
    if nrm == 0:
        raise ValueError("w is the zero vector; its margin is undefined")
    return float(np.min(s * (Xm @ wv)) / nrm)


def angle_between(u: ArrayLike, v: ArrayLike) -> float:
    r"""The angle in radians, in ``[0, pi]``, between two non-zero vectors.

    Computed as ``2 atan2(||u' - v'||, ||u' + v'||)`` with ``u' = u/||u||`` and ``v' = v/||v||``, which
    stays accurate for tiny angles (``arccos`` of the cosine loses half the digits there; Kahan,
    "How futile are mindless assessments of roundoff in floating-point computation?", 2006, §12).

    Parameters
    ----------
    u, v : array of shape (d,)
        Non-zero vectors of the same length.

    Returns
    -------
    float
        The angle in radians.

    Examples
    --------
    >>> bool(np.isclose(angle_between([1.0, 0.0], [1.0, 1.0]), np.pi / 4))
    True
    >>> angle_between([1.0, 0.0], [1.0, 1e-9])    # arccos of the cosine gives 0.0 here
    1e-09
    """
    a = _vector(u, "u")
    b = _vector(v, "v", a.shape[0])
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        raise ValueError("angle_between needs two non-zero vectors; got a zero vector")
    a, b = a / na, b / nb
    return float(2.0 * math.atan2(np.linalg.norm(a - b), np.linalg.norm(a + b)))


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
    X: ArrayLike,
    y: ArrayLike,
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
        Samples as rows.
    y : array of shape (N,)
        Integer labels in ``0..C-1``, every class present.
    steps : int
        Number of updates ``T >= 1``.
    record_every, record_at : int or sequence of int, optional
        Which iterations to record, as in :func:`gradient_descent_logistic`.
    lr : float, optional
        Step size; default ``1 / beta`` with ``beta = ||X||_2^2 / (2N)``, an upper bound on the
        smoothness of ``L`` (the Hessian of log-sum-exp has norm at most 1/2).

    Returns
    -------
    LogisticPath
        With ``directions`` of shape ``(K, C, d)`` (``W_t / ||W_t||_F``), ``norms`` the Frobenius
        norms, ``losses`` the cross-entropy and ``weights`` the final ``(C, d)`` matrix.

    Examples
    --------
    Three noisy classes around a simplex: the margin of ``W_t / ||W_t||_F`` climbs towards the
    hard-margin SVM's, slowly:

    >>> from ncedu import simplex_etf
    >>> rng = np.random.default_rng(0)
    >>> y = np.arange(30) % 3
    >>> X = 2 * simplex_etf(3, 2)[y] + 0.3 * rng.standard_normal((30, 2))
    >>> path = gradient_descent_cross_entropy(X, y, steps=1000, record_at=[10, 100, 1000])
    >>> path.directions.shape
    (3, 3, 2)
    >>> margins = [multiclass_margin(X, y, U) for U in path.directions]
    >>> best = max_margin_multiclass(X, y)[1]
    >>> bool(margins[0] < margins[1] < margins[2] < best)
    True
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


def multiclass_margin(X: ArrayLike, y: ArrayLike, W: ArrayLike) -> float:
    r"""The normalised multiclass margin ``min_i min_{c != y_i} (w_{y_i} - w_c)^T x_i / ||W||_F``.

    Positive iff ``argmax_c w_c . x_i = y_i`` for every sample (with no ties); for two classes and
    ``W = [-w/2; w/2]`` it is ``sqrt(2) margin(X, y, w)`` (``w_1 - w_0 = w`` while ``||W||_F = ||w|| / sqrt(2)``).

    Parameters
    ----------
    X : array of shape (N, d)
        Samples as rows.
    y : array of shape (N,)
        Integer labels in ``0..C-1``, every class present.
    W : array of shape (C, d)
        A non-zero classifier, one row per class.

    Returns
    -------
    float
        Negative when some sample is misclassified.

    Examples
    --------
    One sample at each vertex of a simplex ETF, classified by the simplex itself: every margin is
    ``(1 + 1/2) / ||V||_F = 1.5 / sqrt(3)``.

    >>> from ncedu import simplex_etf
    >>> V = simplex_etf(3, 2)
    >>> round(multiclass_margin(V, [0, 1, 2], V), 6), round(1.5 / math.sqrt(3), 6)
    (0.866025, 0.866025)
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


def max_margin_multiclass(X: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, float]:
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

    Parameters
    ----------
    X : array of shape (N, d)
        Samples as rows.
    y : array of shape (N,)
        Integer labels in ``0..C-1``, every class present.

    Returns
    -------
    direction : numpy.ndarray of shape (C, d)
        ``U``, of unit Frobenius norm.
    margin : float
        ``gamma > 0``.

    Raises
    ------
    ValueError
        If no ``W`` classifies every sample correctly (``argmax_c w_c . x_i = y_i``), or on bad input.

    References
    ----------
    K. Crammer & Y. Singer, "On the algorithmic implementation of multiclass kernel-based vector
    machines", JMLR 2, 2001; Soudry et al. (2018), JMLR 19, Section 4.

    Examples
    --------
    With one sample at each vertex of a simplex ETF ``V``, the SVM is the simplex itself,
    ``U = V / ||V||_F`` (self-duality, NC3, at the level of the SVM), by symmetry:

    >>> from ncedu import simplex_etf
    >>> V = simplex_etf(3, 2)
    >>> U, gamma = max_margin_multiclass(V, [0, 1, 2])
    >>> bool(np.allclose(U, V / np.sqrt(3))), round(gamma, 6)
    (True, 0.866025)
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
