"""Proposition 1 of Papyan, Han & Donoho (2020): the MSE-optimal linear classifier of Webb & Lowe (1990)."""

from __future__ import annotations

import math
import warnings
from typing import Optional

import numpy as np

from .._validation import ArrayLike, check_labels

from ._inputs import _matrix


def webb_lowe_classifier(
    features: ArrayLike,
    labels: ArrayLike,
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
