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
