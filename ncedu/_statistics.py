r"""The statistics behind the metrics, for teaching and checking: the class means, the sample mean and
the covariances ``Sigma_W``, ``Sigma_B``, ``Sigma_T``, as float64 matrices.

They form the (p, p) matrices the definitions name (Papyan, Han & Donoho 2020, "Setup"), which
:func:`ncedu.measure` never does; chapters and tests use them to show and check the definitions.
Re-exported by :mod:`ncedu.metrics` and :mod:`ncedu`, where the conventions are explained.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._validation import ArrayLike, check_features, check_labels

__all__ = ["class_means", "global_mean", "within_class_covariance", "between_class_covariance", "total_covariance"]


def _prepared(features: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, int]:
    H = check_features(features)
    y, C = check_labels(labels, H.shape[0])
    return H.to("cpu", torch.float64).numpy(), y.cpu().numpy(), C


def class_means(features: ArrayLike, labels: ArrayLike) -> np.ndarray:
    r"""The (C, p) class means :math:`\mu_c = \frac{1}{n_c} \sum_{i:\, y_i = c} h_i`, in float64.

    Papyan, Han & Donoho (2020), "Setup"; the rows :func:`measure` centres, compares and
    returns as :attr:`NCMetrics.class_means`. This and the covariances below form every matrix
    in float64, for teaching and checking; :func:`measure` computes the metrics without them.

    Parameters
    ----------
    features : array or tensor of shape (N, p)
        The features ``h_i``, one row per sample.
    labels : array or tensor of shape (N,)
        Class indices ``y_i`` in ``0..C-1``; every class must occur.

    Returns
    -------
    numpy.ndarray of shape (C, p), float64

    Examples
    --------
    >>> H = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 1.0], [12.0, 1.0]])
    >>> y = np.array([0, 0, 1, 1])
    >>> class_means(H, y)
    array([[ 1.,  0.],
           [11.,  1.]])
    """
    H, y, C = _prepared(features, labels)
    return np.stack([H[y == c].mean(0) for c in range(C)])


def global_mean(features: ArrayLike) -> np.ndarray:
    r"""The global mean :math:`\mu_G = \frac{1}{N} \sum_i h_i`: the sample mean, not the mean of class means.

    The paper's convention (Papyan, Han & Donoho 2020, "Setup"); the two differ when the classes
    are imbalanced, and the authors' notebook uses the mean of class means.

    Parameters
    ----------
    features : array or tensor of shape (N, p)
        The features ``h_i``.

    Returns
    -------
    numpy.ndarray of shape (p,), float64

    Examples
    --------
    >>> H = np.array([[0.0, 0.0], [0.0, 0.0], [3.0, 3.0]])  # two samples of class 0, one of class 1
    >>> global_mean(H), class_means(H, [0, 0, 1]).mean(0)
    (array([1., 1.]), array([1.5, 1.5]))
    """
    return check_features(features).to("cpu", torch.float64).numpy().mean(0)


def within_class_covariance(features: ArrayLike, labels: ArrayLike) -> np.ndarray:
    r"""The within-class covariance, centred at each sample's *class* mean.

    .. math::

        \Sigma_W = \frac{1}{N} \sum_{i=1}^N (h_i - \mu_{y_i})(h_i - \mu_{y_i})^\top

    (Papyan, Han & Donoho 2020, "Setup"; NC1 is ``Tr(Sigma_W Sigma_B^+) / C``). Centring at
    ``mu_G`` instead is a common slip: it gives the total covariance :func:`total_covariance`.

    Parameters
    ----------
    features : array or tensor of shape (N, p)
        The features ``h_i``.
    labels : array or tensor of shape (N,)
        Class indices in ``0..C-1``; every class must occur.

    Returns
    -------
    numpy.ndarray of shape (p, p), float64

    Examples
    --------
    >>> H = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 1.0], [12.0, 1.0]])
    >>> within_class_covariance(H, [0, 0, 1, 1])
    array([[1., 0.],
           [0., 0.]])
    """
    H, y, C = _prepared(features, labels)
    mu = np.stack([H[y == c].mean(0) for c in range(C)])
    R = H - mu[y]
    return R.T @ R / H.shape[0]


def between_class_covariance(features: ArrayLike, labels: ArrayLike) -> np.ndarray:
    r"""The between-class covariance of the class means about the sample mean.

    .. math::

        \Sigma_B = \frac{1}{C} \sum_{c=1}^C (\mu_c - \mu_G)(\mu_c - \mu_G)^\top

    (Papyan, Han & Donoho 2020, "Setup"), with ``mu_G`` the sample mean; its rank is at most
    ``C - 1``, so NC1 uses its pseudo-inverse.

    Parameters
    ----------
    features : array or tensor of shape (N, p)
        The features ``h_i``.
    labels : array or tensor of shape (N,)
        Class indices in ``0..C-1``; every class must occur.

    Returns
    -------
    numpy.ndarray of shape (p, p), float64

    Examples
    --------
    >>> H = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 1.0], [12.0, 1.0]])
    >>> between_class_covariance(H, [0, 0, 1, 1])
    array([[25.  ,  2.5 ],
           [ 2.5 ,  0.25]])
    """
    H, y, C = _prepared(features, labels)
    mu = np.stack([H[y == c].mean(0) for c in range(C)])
    M = mu - H.mean(0)
    return M.T @ M / C


def total_covariance(features: ArrayLike) -> np.ndarray:
    r"""The total covariance of the features about their sample mean.

    .. math::

        \Sigma_T = \frac{1}{N} \sum_{i=1}^N (h_i - \mu_G)(h_i - \mu_G)^\top ,

    which equals ``Sigma_W + Sigma_B`` for balanced classes (Papyan, Han & Donoho 2020, "Setup";
    Proposition 1's classifier is built from its pseudo-inverse).

    Parameters
    ----------
    features : array or tensor of shape (N, p)
        The features ``h_i``.

    Returns
    -------
    numpy.ndarray of shape (p, p), float64

    Examples
    --------
    >>> H = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 1.0], [12.0, 1.0]])
    >>> total_covariance(H)
    array([[26.  ,  2.5 ],
           [ 2.5 ,  0.25]])
    """
    H = check_features(features).to("cpu", torch.float64).numpy()
    R = H - H.mean(0)
    return R.T @ R / H.shape[0]
