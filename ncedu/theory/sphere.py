"""The simplex ETF as the best-separated configuration: ``C`` points spread on the unit sphere."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .._validation import check_num_classes


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


def push_apart(
    C: int,
    dim: int,
    seed: int = 0,
    *,
    beta: float = 30.0,
    steps: int = 1000,
    eta0: float = 0.2,
) -> np.ndarray:
    r"""Projected gradient ascent on the soft minimum of the squared distances, with a decaying step.

    The algorithm of the book's chapter 4, written as there: with :math:`d_{cc'} = \|v_c - v_{c'}\|^2
    = 2 - 2\langle v_c, v_{c'}\rangle` for unit vectors, it climbs

    .. math::

        m_\beta = -\frac1\beta \log \sum_{c<c'} e^{-\beta d_{cc'}}, \qquad
        \frac{\partial m_\beta}{\partial v_c} = -\frac{2}{Z}\sum_{c' \ne c} e^{-\beta d_{cc'}} v_{c'},
        \quad Z = \sum_{c<c'} e^{-\beta d_{cc'}},

    by :math:`v_c \leftarrow (v_c + \eta_t \partial m_\beta/\partial v_c)/\|\cdot\|` with
    :math:`\eta_t = \eta_0/\sqrt{1 + t/100}`, from ``C`` standard Gaussian rows in ``R^dim``
    normalised to unit length. The weights are computed as ``e^{-beta (d - min d)}``, a common
    factor that cancels in the ratio, so nothing underflows. For ``dim >= C - 1`` the unique
    maximiser (up to rotation) is the simplex ETF, for every ``beta`` (chapter 4's proof).
    :func:`max_separation_on_sphere` climbs the same objective with the Riemannian gradient and a
    constant step.

    Parameters
    ----------
    C : int
        ``C >= 2`` vectors.
    dim : int
        ``dim >= 1``.
    seed : int, default 0
        Seeds numpy's ``default_rng`` for the start.
    beta : float, default 30
        The sharpness ``> 0``.
    steps : int, default 1000
        The number of ascent steps ``>= 0``.
    eta0 : float, default 0.2
        The initial step ``> 0``.

    Returns
    -------
    numpy.ndarray of shape (C, dim)
        Unit rows.

    Examples
    --------
    >>> from ncedu import etf_gram
    >>> U = push_apart(10, 20, seed=0)
    >>> bool(np.abs(U @ U.T - etf_gram(10)).max() < 1e-12)
    True
    """
    C = check_num_classes(C, "C")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    for name, value in (("beta", beta), ("eta0", eta0)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive finite number, got {value}")
    pairs = np.triu_indices(C, 1)
    U = np.random.default_rng(seed).standard_normal((C, int(dim)))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    for t in range(int(steps)):
        d = 2 - 2 * U @ U.T                                  # squared distances between unit vectors
        K = np.exp(-beta * (d - d[pairs].min()))             # e^{-beta d} times a common factor (no underflow)
        np.fill_diagonal(K, 0)
        gradient = -2 * K @ U / K[pairs].sum()               # the gradient of m_beta: the factor cancels
        U = U + eta0 / np.sqrt(1 + t / 100) * gradient       # a step that decays with t ...
        U /= np.linalg.norm(U, axis=1, keepdims=True)        # ... then back onto the unit sphere
    return U
