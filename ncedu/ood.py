r"""Out-of-distribution scores from a classifier's features, and the AUROC that compares them.

Neural collapse says where a network's *training* features end up: on ``C`` class means whose
centred versions span a subspace of dimension ``C - 1`` (NC1 and NC2). Ammar, Belkhir, Popescu,
Manzanera & Franchi (ICLR 2024, "NECO: NEural Collapse Based Out-of-distribution detection")
turn this into a detector: a feature whose direction lies in the principal subspace of the
in-distribution training features is in-distribution, one with a large component outside it is
not. Their score is the ratio ``||P h|| / ||h||`` of the norm of a feature's projection on the
first ``d`` principal components of the training features to the norm of the feature (public
implementations also standardise each coordinate on the training features first, and offer the
score multiplied by the largest logit).

* :func:`principal_subspace_score`: ``||P_d (h - mu)|| / ||h - mu||``, the cosine of the angle
  between the centred feature and the top-``d`` principal subspace of the training features
  (centred at their mean ``mu``; no per-coordinate standardisation);
* :func:`max_softmax`: the largest softmax probability of each sample, the classic baseline
  score of Hendrycks & Gimpel (ICLR 2017);
* :func:`auroc`: the area under the ROC curve of a score that should be larger in distribution,
  ``P(s_in > s_out) + P(s_in = s_out) / 2`` over all pairs (the Mann–Whitney statistic).

Everything is float64 numpy on the CPU and deterministic. A higher score means "more
in-distribution" for every score here.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._validation import ArrayLike, check_features, check_int

__all__ = ["principal_subspace_score", "max_softmax", "auroc"]

#: Relative size below which a principal value counts as zero, or two count as tied.
_RELATIVE_TOLERANCE = 1e-10


def _matrix(x: ArrayLike, name: str) -> np.ndarray:
    """A finite, non-empty (n, p) float64 numpy array, or an error naming ``name``."""
    return check_features(x, name).detach().to("cpu").double().numpy()


def _vector(x: ArrayLike, name: str) -> np.ndarray:
    """A finite, non-empty 1-D float64 numpy array, or an error naming ``name``."""
    try:
        v = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a 1-D array of real numbers, got {type(x).__name__}") from None
    if v.dtype == np.bool_ or v.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {v.dtype}")
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {v.shape}")
    v = v.astype(np.float64)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return v


def principal_subspace_score(train_features: ArrayLike, features: ArrayLike, dim: int) -> np.ndarray:
    r"""How much of each centred feature lies in the top principal subspace of the training features.

    .. math::

        s(h) = \frac{\| P_d\,(h - \mu) \|}{\| h - \mu \|}, \qquad
        \mu = \frac1N \sum_{i=1}^N h_i ,

    where :math:`P_d` is the orthogonal projector onto the span of the eigenvectors of the
    :math:`d` largest eigenvalues of the training features' covariance
    :math:`\Sigma_T = \frac1N \sum_i (h_i - \mu)(h_i - \mu)^\top`. So :math:`s(h)` is the cosine of
    the angle between :math:`h - \mu` and that subspace, between 0 and 1. Under exact NC1 with
    means spanning :math:`C - 1` dimensions, :math:`\Sigma_T = \Sigma_B` has rank :math:`C - 1`, and
    with :math:`d = C - 1` every training feature scores exactly 1.

    This is the score of NECO (Ammar et al., ICLR 2024) without the per-coordinate
    standardisation of its public implementations.

    Parameters
    ----------
    train_features : array_like of shape (N, p)
        In-distribution training features, which define :math:`\mu` and the subspace.
    features : array_like of shape (M, p)
        The features to score.
    dim : int
        :math:`d`, the dimension of the subspace, ``1 <= dim <= p``.

    Returns
    -------
    numpy.ndarray of shape (M,), float64
        The scores, in [0, 1]. NaN, with a warning, for every feature when the subspace is not
        determined (``dim`` exceeds the rank of :math:`\Sigma_T`, or the ``dim``-th and
        ``dim + 1``-th eigenvalues are tied), and for a feature equal to :math:`\mu`.

    Raises
    ------
    TypeError, ValueError
        Inputs that are not finite real (N, p) and (M, p) arrays with the same p; ``dim`` not an
        integer in ``1..p``.

    References
    ----------
    M. Ben Ammar, N. Belkhir, S. Popescu, A. Manzanera, G. Franchi, "NECO: NEural Collapse Based
    Out-of-distribution detection", ICLR 2024.

    Examples
    --------
    Training features spread along the first axis only; a test feature along the second axis
    scores 0, one at 45 degrees scores :math:`1/\sqrt2`:

    >>> H = np.array([[-2.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    >>> principal_subspace_score(H, np.array([[3.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), dim=1).round(4).tolist()
    [1.0, 0.0, 0.7071]
    """
    H = _matrix(train_features, "train_features")
    X = _matrix(features, "features")
    N, p = H.shape
    if X.shape[1] != p:
        raise ValueError(f"features must have the same number of columns as train_features ({p}), "
                         f"got shape {X.shape}")
    dim = check_int(dim, "dim", minimum=1, maximum=p)
    mu = H.mean(axis=0)
    # the right singular vectors of the centred features are the eigenvectors of Sigma_T, largest first
    _, s, Vt = np.linalg.svd((H - mu) / np.sqrt(N), full_matrices=False)
    s = np.concatenate([s, np.zeros(max(0, p - s.size))])
    scale = s[0] if s[0] > 0 else 1.0
    if s[dim - 1] <= _RELATIVE_TOLERANCE * scale:
        warnings.warn(f"dim={dim} exceeds the rank of the training features' covariance "
                      f"({int(np.sum(s > _RELATIVE_TOLERANCE * scale))}): the subspace is not determined; "
                      "returning NaN", RuntimeWarning, stacklevel=2)
        return np.full(X.shape[0], np.nan)
    if dim < p and s[dim - 1] - s[dim] <= _RELATIVE_TOLERANCE * scale:
        warnings.warn(f"the {dim}-th and {dim + 1}-th principal values of the training features are tied: the "
                      f"top-{dim} subspace is not unique; returning NaN", RuntimeWarning, stacklevel=2)
        return np.full(X.shape[0], np.nan)
    R = X - mu
    inside = np.linalg.norm(R @ Vt[:dim].T, axis=1)
    total = np.linalg.norm(R, axis=1)
    at_mean = total == 0
    if np.any(at_mean):
        warnings.warn(f"{int(at_mean.sum())} feature(s) equal the training mean: their score 0/0 is NaN",
                      RuntimeWarning, stacklevel=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(at_mean, np.nan, inside / np.where(at_mean, 1.0, total))
    return np.minimum(score, 1.0)


def max_softmax(logits: ArrayLike) -> np.ndarray:
    r"""The largest softmax probability of each row of logits: :math:`\max_c e^{z_c} / \sum_k e^{z_k}`.

    Computed stably as :math:`1 / \sum_k e^{z_k - \max_c z_c}`, so logits of any size are fine.
    The baseline out-of-distribution score of Hendrycks & Gimpel (ICLR 2017).

    Parameters
    ----------
    logits : array_like of shape (M, C)
        Finite real scores, one row per sample (``C >= 1``).

    Returns
    -------
    numpy.ndarray of shape (M,), float64
        Values in ``[1/C, 1]``.

    References
    ----------
    D. Hendrycks, K. Gimpel, "A baseline for detecting misclassified and out-of-distribution
    examples in neural networks", ICLR 2017.

    Examples
    --------
    >>> max_softmax(np.array([[0.0, 0.0], [1000.0, 0.0]])).tolist()
    [0.5, 1.0]
    """
    Z = _matrix(logits, "logits")
    return 1.0 / np.exp(Z - Z.max(axis=1, keepdims=True)).sum(axis=1)


def auroc(in_scores: ArrayLike, out_scores: ArrayLike) -> float:
    r"""Area under the ROC curve of a score meant to be larger in distribution than out of it.

    .. math::

        \mathrm{AUROC} = \frac{1}{n m} \sum_{i=1}^n \sum_{j=1}^m
        \Big( \mathbf 1[s_i > t_j] + \tfrac12 \mathbf 1[s_i = t_j] \Big),

    for in-distribution scores :math:`s_1..s_n` and out-of-distribution scores :math:`t_1..t_m`:
    the probability that a random in-distribution sample scores higher than a random
    out-of-distribution one, ties counted half (the Mann–Whitney U statistic divided by
    :math:`nm`). 1 separates perfectly, 1/2 is chance, 0 is perfectly reversed. Computed from
    the ranks of the pooled scores (ties get their average rank), in :math:`O((n+m)\log(n+m))`.

    Parameters
    ----------
    in_scores : array_like of shape (n,)
        Scores of in-distribution samples (finite).
    out_scores : array_like of shape (m,)
        Scores of out-of-distribution samples (finite).

    Returns
    -------
    float

    Examples
    --------
    >>> auroc([0.9, 0.8, 0.7], [0.1, 0.75]), auroc([1.0, 1.0], [1.0])
    (0.8333333333333334, 0.5)
    """
    s = _vector(in_scores, "in_scores")
    t = _vector(out_scores, "out_scores")
    pooled = np.concatenate([s, t])
    order = np.argsort(pooled, kind="mergesort")
    sorted_scores = pooled[order]
    ranks = np.empty(pooled.size)
    # average rank (1-based) of each run of equal scores
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [pooled.size]])
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = (a + 1 + b) / 2.0
    n, m = s.size, t.size
    u = ranks[:n].sum() - n * (n + 1) / 2.0
    return float(u / (n * m))
