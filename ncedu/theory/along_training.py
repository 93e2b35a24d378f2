r"""Propositions 1 and 2 measured along a recorded run, on its sampled training features.

A :class:`ncedu.History` keeps the features of a fixed sample of training examples and the
classifier ``(W, b)`` at every measured epoch. Here the propositions' optimal classifiers are
computed on those features and compared with the network's own:

* :func:`webb_lowe_along_training` (Proposition 1, chapter 7): the MSE-optimal classifier of
  each epoch's features (:func:`ncedu.theory.webb_lowe_classifier`), with and without the ridge
  term that the network's weight decay corresponds to;
* :func:`pair_features`, :func:`pair_classifier` and :func:`pairwise_max_margin` (Proposition 2,
  chapter 8): for every pair of classes, the hard-margin SVM of the pair's augmented features
  ``(h, 1)`` against the network's pair classifier ``(w_a - w_b, b_a - b_b)``.

The distance between two classifiers is the NC3 formula
:math:`D(A, B) = \|A/\|A\|_F - B/\|B\|_F\|_F^2` (:func:`ncedu.self_duality`), ``2 - 2 cos`` of their angle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..history import History
from ._inputs import _history
from .margins import angle_between, margin, max_margin_direction
from .webb_lowe import webb_lowe_classifier

__all__ = ["webb_lowe_along_training", "pair_features", "pair_classifier", "PairwiseMaxMargin",
           "pairwise_max_margin"]


def _distance(A: np.ndarray, B: np.ndarray) -> float:
    """``|| A/||A||_F - B/||B||_F ||_F^2``."""
    return float(np.sum((A / np.linalg.norm(A) - B / np.linalg.norm(B)) ** 2))


def _mse(W: np.ndarray, b: np.ndarray, H: np.ndarray, y: np.ndarray) -> float:
    """The mean over the ``N C`` entries of ``(W h_i + b - e_{y_i})^2`` (ncedu.train's ``loss="mse"``)."""
    return float(np.mean((H @ W.T + b - np.eye(W.shape[0])[y]) ** 2))


def webb_lowe_along_training(history: History, ridge: Optional[float] = None) -> dict[str, np.ndarray]:
    r"""The network's classifier against the MSE-optimal classifiers of its features, epoch by epoch.

    At every measured epoch, on the sampled training features ``H`` (labels ``y``, centred class
    means ``M``), with the Webb–Lowe classifier :math:`(W_{WL}, b_{WL})` (Proposition 1) and its ridge
    form :math:`(W_\lambda, b_\lambda)`, the minimiser of the MSE plus :math:`\lambda\|W\|_F^2/C`
    (:func:`ncedu.theory.webb_lowe_classifier` with ``ridge=lambda``):

    * ``D_wl``, ``D_lam``: :math:`D(W, W_{WL})` and :math:`D(W, W_\lambda)` for the network's ``W``;
    * ``nc3``, ``nc3_wl``, ``nc3_lam``: :math:`D(\cdot, M)` of the three classifiers;
    * ``mse``, ``mse_wl``, ``mse_lam``: their mean squared errors against the one-hot labels (mean
      over the ``N C`` entries).

    Parameters
    ----------
    history : History
    ridge : float, optional
        ``lambda``; by default ``C omega / 2`` with ``omega`` the run's ``config["weight_decay"]``,
        the ridge that weight decay ``omega`` on ``W`` adds to this MSE (chapter 7).

    Returns
    -------
    dict of numpy.ndarray of shape (E,)

    Examples
    --------
    >>> from ncedu import History, simplex_etf
    >>> E, y = 2 * simplex_etf(3, 3), np.repeat(np.arange(3), 4)
    >>> h = History(config={"weight_decay": 0.0}, sample_labels=y)
    >>> h.append(epoch=1, sample_features=E[y], W=E, b=np.zeros(3), class_means=E)
    >>> out = webb_lowe_along_training(h)         # collapsed on a simplex ETF, W = M: all three agree
    >>> bool(out["D_wl"][0] < 1e-12), bool(out["nc3"][0] < 1e-12)
    (True, True)
    """
    h = _history(history)
    y = h.sample_labels
    C = int(y.max()) + 1
    lam = C * h.config["weight_decay"] / 2 if ridge is None else float(ridge)
    rows = []
    for k in range(len(h)):
        H = h["sample_features"][k].astype(np.float64)
        W, b = h["W"][k], h["b"][k]
        W_wl, b_wl = webb_lowe_classifier(H, y)
        W_lam, b_lam = webb_lowe_classifier(H, y, ridge=lam)
        M = np.stack([H[y == c].mean(axis=0) for c in range(C)]) - H.mean(axis=0)
        rows.append(dict(D_wl=_distance(W, W_wl), D_lam=_distance(W, W_lam), nc3=_distance(W, M),
                         nc3_wl=_distance(W_wl, M), nc3_lam=_distance(W_lam, M), mse=_mse(W, b, H, y),
                         mse_wl=_mse(W_wl, b_wl, H, y), mse_lam=_mse(W_lam, b_lam, H, y)))
    return {key: np.array([row[key] for row in rows]) for key in rows[0]}


def pair_features(history: History, index: int, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The augmented sampled features :math:`\tilde h = (h, 1)` of classes ``a`` (``+1``) and ``b`` (``-1``).

    Parameters
    ----------
    history : History
    index : int
        Position of the measured epoch (``-1`` for the last).
    a, b : int
        Two different classes.

    Returns
    -------
    X : numpy.ndarray of shape (n_a + n_b, p + 1)
        The sampled features of the two classes with a constant 1 appended (so the bias of a
        separator through the origin is its last weight).
    y : numpy.ndarray of shape (n_a + n_b,)
        ``+1`` for class ``a``, ``-1`` for class ``b``.

    Examples
    --------
    >>> from ncedu import History
    >>> h = History(sample_labels=[0, 1, 2])
    >>> h.append(epoch=1, sample_features=np.eye(3), W=np.eye(3), b=np.zeros(3), class_means=np.eye(3))
    >>> X, y = pair_features(h, -1, 0, 2)
    >>> X.tolist(), y.tolist()
    ([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]], [1.0, -1.0])
    """
    h = _history(history)
    if a == b:
        raise ValueError(f"a and b must be different classes, got {a} twice")
    H = h["sample_features"][index].astype(np.float64)
    labels = h.sample_labels
    keep = (labels == a) | (labels == b)
    if not (np.any(labels == a) and np.any(labels == b)):
        raise ValueError(f"classes {a} and {b} must both occur among the sampled features")
    return np.hstack([H[keep], np.ones((keep.sum(), 1))]), np.where(labels[keep] == a, 1.0, -1.0)


def pair_classifier(history: History, index: int, a: int, b: int) -> np.ndarray:
    """The network's classifier of class ``a`` against class ``b``: ``(w_a - w_b, b_a - b_b)``.

    It scores the augmented features of :func:`pair_features`: ``(w_a - w_b) . h + (b_a - b_b)`` is
    positive where the network prefers ``a`` to ``b``.

    Parameters
    ----------
    history : History
    index : int
        Position of the measured epoch (``-1`` for the last).
    a, b : int
        Two classes.

    Returns
    -------
    numpy.ndarray of shape (p + 1,)

    Examples
    --------
    >>> from ncedu import History
    >>> h = History(sample_labels=[0, 1])
    >>> h.append(epoch=1, sample_features=np.eye(2), W=np.eye(2), b=np.array([0.5, -0.5]), class_means=np.eye(2))
    >>> pair_classifier(h, -1, 0, 1).tolist()
    [1.0, -1.0, 1.0]
    """
    h = _history(history)
    W, bias = h["W"][index], h["b"][index]
    return np.r_[W[a] - W[b], bias[a] - bias[b]]


@dataclass(frozen=True, eq=False)
class PairwiseMaxMargin:
    r"""The pairwise max-margin analysis of a run (:func:`pairwise_max_margin`).

    Arrays of shape (E, P) have one row per measured epoch and one column per pair of ``pairs``.

    Attributes
    ----------
    pairs : list of (int, int)
        The pairs ``(a, b)``, ``a < b``.
    network_angle : numpy.ndarray (E, P)
        Angle in degrees between the network's pair classifier and the pair's max-margin direction.
    mean_angle : numpy.ndarray (E, P)
        Angle in degrees between the augmented mean difference :math:`(\mu_a - \mu_b, 0)` and it.
    margin_ratio : numpy.ndarray (E, P)
        The network's margin over the max margin (negative where it misclassifies a sample).
    spread : numpy.ndarray (E, P)
        :math:`\operatorname{median}_i y_i \hat u^\top \tilde h_i / \gamma`: 1 when every sample is a support vector.
    support : numpy.ndarray (P,)
        The number of support vectors of each pair's SVM at the last epoch
        (:math:`y_i \hat u^\top \tilde h_i = \gamma` to a relative ``1e-6``).

    Examples
    --------
    >>> from ncedu import History, simplex_etf
    >>> E, y = simplex_etf(3, 2), np.repeat(np.arange(3), 2)
    >>> h = History(sample_labels=y)
    >>> h.append(epoch=1, sample_features=E[y], W=E, b=np.zeros(3), class_means=E)
    >>> out = pairwise_max_margin(h)
    >>> out.network_angle.shape, bool(np.allclose(out.margin_ratio, 1))
    ((1, 3), True)
    """

    pairs: list
    network_angle: np.ndarray
    mean_angle: np.ndarray
    margin_ratio: np.ndarray
    spread: np.ndarray
    support: np.ndarray


def pairwise_max_margin(history: History) -> PairwiseMaxMargin:
    r"""For every pair of classes and every measured epoch, the network's pair classifier against the hard-margin SVM.

    For classes ``a < b`` the samples are the augmented sampled features :math:`\tilde h_i = (h_i, 1)`
    (:func:`pair_features`), with :math:`y_i = \pm 1`; the max-margin direction :math:`\hat u` and margin
    :math:`\gamma` are those of :func:`ncedu.theory.max_margin_direction` (the SVM through the origin of the
    augmented features, so the bias is penalised like a weight, as in Proposition 2), and the
    network's pair classifier is :math:`(w_a - w_b, b_a - b_b)` (:func:`pair_classifier`).

    Parameters
    ----------
    history : History
        Every pair must be linearly separable through the origin at every measured epoch (a
        ValueError from :func:`ncedu.theory.max_margin_direction` says where it is not).

    Returns
    -------
    PairwiseMaxMargin

    Examples
    --------
    >>> from ncedu import History, simplex_etf
    >>> E, y = simplex_etf(3, 2), np.repeat(np.arange(3), 2)
    >>> h = History(sample_labels=y)
    >>> h.append(epoch=1, sample_features=E[y], W=E, b=np.zeros(3), class_means=E)
    >>> out = pairwise_max_margin(h)      # collapsed, self-dual: the network's classifiers are the SVMs
    >>> out.pairs, bool(np.allclose(out.network_angle, 0, atol=1e-5)), out.support.tolist()
    ([(0, 1), (0, 2), (1, 2)], True, [4, 4, 4])
    """
    h = _history(history)
    C = int(h.sample_labels.max()) + 1
    pairs = [(i, j) for i in range(C) for j in range(i + 1, C)]
    E = len(h)
    net_angle, mean_angle, ratio, spread = (np.zeros((E, len(pairs))) for _ in range(4))
    support = np.zeros(len(pairs), dtype=int)
    for k in range(E):
        for q, (i, j) in enumerate(pairs):
            X, y = pair_features(h, k, i, j)
            u, g = max_margin_direction(X, y)
            w = pair_classifier(h, k, i, j)
            net_angle[k, q] = np.degrees(angle_between(w, u))
            mean_angle[k, q] = np.degrees(angle_between(X[y > 0].mean(axis=0) - X[y < 0].mean(axis=0), u))
            ratio[k, q] = margin(X, y, w) / g
            spread[k, q] = np.median(y * (X @ u)) / g
            if k == E - 1:
                support[q] = np.sum(np.isclose(y * (X @ u), g, rtol=1e-6))
    return PairwiseMaxMargin(pairs=pairs, network_angle=net_angle, mean_angle=mean_angle, margin_ratio=ratio,
                             spread=spread, support=support)
