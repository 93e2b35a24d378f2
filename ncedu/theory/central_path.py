r"""The squared loss and its central path (Han, Papyan & Donoho, ICLR 2022), as exact tools.

Notation of :mod:`ncedu.metrics` (rows are samples and classes): features ``h_i`` (N, p), labels
``y_i`` with class counts ``n_c`` and frequencies :math:`\pi_c = n_c/N`, class means ``mu_c``, sample
mean ``mu_G``, ``M`` (C, p) with rows ``mu_c - mu_G``, :math:`\Sigma_T` and the pooled within-class
covariance :math:`\Sigma_W`, both divided by ``N``. The last layer is ``(W, b)`` with ``W`` (C, p).

**The objective.** In the normalisation of Han et al. (and of the unconstrained features model,
:mod:`ncedu.theory.ufm`),

.. math::

    L(W, b) = \frac{1}{2N}\sum_{i=1}^N \|W h_i + b - e_{y_i}\|^2
              + \frac{\lambda_W}{2}\|W\|_F^2 + \frac{\lambda_b}{2}\|b\|^2 .

``ncedu.train(loss="mse", weight_decay=omega)`` minimises the mean over the ``N C`` squared entries
plus :math:`\frac{\omega}{2}(\|W\|_F^2 + \|b\|^2)` (torch's weight decay acts on the bias too), which
is :math:`\frac{2}{C} L` with :math:`\lambda_W = \lambda_b = C\omega/2`.

**The central path.** For fixed features, :math:`L` is a convex quadratic in ``(W, b)``; its minimiser
(:func:`central_path_classifier`) is, with :math:`\kappa = \lambda_b/(1 + \lambda_b)`,

.. math::

    W_{LS} = \bigl(\operatorname{diag}(\pi) M + \kappa\,\pi\mu_G^\top\bigr)
             \bigl(\Sigma_T + \lambda_W I + \kappa\,\mu_G\mu_G^\top\bigr)^{-1}, \qquad
    b_{LS} = \frac{\pi - W_{LS}\mu_G}{1 + \lambda_b} .

With :math:`\lambda_b = 0` this is the ridge form of Proposition 1 (chapter 7,
:func:`ncedu.theory.webb_lowe_classifier` with ``ridge=lambda_W`` and ``weighting="frequency"``); with
appended constant features :math:`\tilde h = (h, 1)` it is Han et al.'s
:math:`\tilde W_{LS} = \frac1C \tilde M^\top(\tilde\Sigma_T + \tilde\mu_G\tilde\mu_G^\top + \lambda I)^{-1}`
(their column convention, balanced classes, :math:`\lambda_W = \lambda_b = \lambda`). The pairs
``(W_LS(H), H)`` form the *central path*.

**The decomposition** (:func:`mse_decomposition`). For every ``(W, b)``,
:math:`L = L_{NC1} + L_{NC2/3} + L_{LS}^{\perp}` with

.. math::

    L_{NC1} = \tfrac12\operatorname{tr}(W_{LS}\Sigma_W W_{LS}^\top)
              + \tfrac{\lambda_W}{2}\|W_{LS}\|_F^2 + \tfrac{\lambda_b}{2}\|b_{LS}\|^2, \qquad
    L_{NC2/3} = \tfrac12\sum_c \pi_c \|W_{LS}\mu_c + b_{LS} - e_c\|^2,

    L_{LS}^{\perp} = \tfrac12\Bigl(\operatorname{tr}(\Delta W\,\Sigma_T\,\Delta W^\top)
              + \|\Delta W\mu_G + \Delta b\|^2 + \lambda_W\|\Delta W\|_F^2 + \lambda_b\|\Delta b\|^2\Bigr) \ge 0,

:math:`\Delta W = W - W_{LS}`, :math:`\Delta b = b - b_{LS}`: the within/between split of the squared
residuals at the optimum, plus the exact quadratic excess of ``(W, b)`` over it. For balanced classes
:math:`L_{NC2/3} = \frac{1}{2C}\|\tilde W_{LS}\tilde M^\top - I\|_F^2` in Han et al.'s notation.

**The signal-to-noise ratio** (:func:`snr_singular_values`): the singular values
:math:`\omega_1 \ge \dots \ge \omega_{C-1}` of :math:`M\Sigma_W^{-1/2}`. They do not change when the
features are mapped by any invertible affine map; with :math:`\lambda_W = \lambda_b = 0` and balanced
classes the loss on the central path is :math:`\frac12\sum_j 1/(C + \omega_j^2)`, and
:math:`\mathrm{NC1} \ge \sum_j \omega_j^{-2}` (chapter "MSE loss and the central path").

**Dynamics on the central path**: :mod:`ncedu.theory.snr_flow` (gradient descent on the features with
the classifier kept at :math:`W_{LS}`, and the closed form its signal-to-noise ratios follow).

References
----------
X. Y. Han, V. Papyan, D. L. Donoho, "Neural collapse under MSE loss: Proximity to and dynamics on the
central path", ICLR 2022.

A. R. Webb, D. Lowe, "The optimised internal representation of multilayer classifier networks performs
nonlinear discriminant analysis", Neural Networks 3(4):367–375, 1990.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from .._validation import ArrayLike, check_classifier, check_labels, check_real
from ..history import History
from ._inputs import _history, _matrix

__all__ = ["central_path_classifier", "MSEDecomposition", "mse_decomposition", "snr_singular_values",
           "central_path_along_training"]


# ----------------------------------------------------------------------------------------------
# The pieces: class statistics, the decays, the minimiser
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stats:
    H: np.ndarray
    y: np.ndarray
    C: int
    pi: np.ndarray
    means: np.ndarray  # (C, p) mu_c
    mu_G: np.ndarray
    Sigma_T: np.ndarray
    Sigma_W: np.ndarray


def _stats(features: Any, labels: Any) -> _Stats:
    H = _matrix(features, "features")
    y_t, C = check_labels(labels, H.shape[0])
    return _stats_of(H, y_t.cpu().numpy(), C)


def _stats_of(H: np.ndarray, y: np.ndarray, C: int) -> _Stats:
    """The statistics of validated float64 features ``H`` and labels ``y`` (every class present)."""
    N = H.shape[0]
    counts = np.bincount(y, minlength=C).astype(np.float64)
    means = np.zeros((C, H.shape[1]))
    np.add.at(means, y, H)
    means /= counts[:, None]
    mu_G = H.mean(axis=0)
    T = H - mu_G
    R = H - means[y]
    return _Stats(H=H, y=y, C=C, pi=counts / N, means=means, mu_G=mu_G, Sigma_T=T.T @ T / N, Sigma_W=R.T @ R / N)


def _decays(lambda_W: Any, lambda_b: Any) -> tuple[float, float]:
    lw = check_real(lambda_W, "lambda_W", minimum=0.0)
    lb = lw if lambda_b is None else check_real(lambda_b, "lambda_b", minimum=0.0)
    return lw, lb


def _minimiser(s: _Stats, lw: float, lb: float) -> tuple[np.ndarray, np.ndarray]:
    """``(W_LS, b_LS)`` of the module docstring (the minimum-norm ``W`` when the minimiser is not unique)."""
    kappa = lb / (1.0 + lb)
    A = s.Sigma_T + lw * np.eye(len(s.mu_G)) + kappa * np.outer(s.mu_G, s.mu_G)
    rhs = s.pi[:, None] * (s.means - s.mu_G) + kappa * np.outer(s.pi, s.mu_G)
    values, vectors = np.linalg.eigh((A + A.T) / 2)
    keep = values > max(A.shape) * np.finfo(np.float64).eps * max(values.max(), 0.0)
    # the rows of rhs lie in the range of A (averages of centred features, plus mu_G where kappa > 0),
    # so the pseudo-inverse on that range solves W A = rhs; it is the inverse when lambda_W > 0
    W = ((rhs @ vectors[:, keep]) / values[keep]) @ vectors[:, keep].T
    b = (s.pi - W @ s.mu_G) / (1.0 + lb)
    return W, b


def _objective(s: _Stats, W: np.ndarray, b: np.ndarray, lw: float, lb: float) -> float:
    E = s.H @ W.T + b
    E[np.arange(len(s.y)), s.y] -= 1.0
    return 0.5 * float(np.mean(np.sum(E * E, axis=1))) + 0.5 * (lw * float(np.sum(W * W)) + lb * float(b @ b))


def central_path_classifier(features: ArrayLike, labels: ArrayLike, *, lambda_W: float = 0.0,
                            lambda_b: Optional[float] = None) -> tuple[np.ndarray, np.ndarray]:
    r"""The classifier of the central path: the minimiser of the squared loss with weight decay on fixed features.

    Minimises :math:`L(W, b) = \frac{1}{2N}\sum_i \|Wh_i + b - e_{y_i}\|^2 + \frac{\lambda_W}{2}\|W\|_F^2
    + \frac{\lambda_b}{2}\|b\|^2` (see the module docstring; Han, Papyan & Donoho 2022 call it the
    least-squares classifier :math:`W_{LS}` of the features):

    .. math::

        W_{LS} = \bigl(\operatorname{diag}(\pi) M + \kappa\,\pi\mu_G^\top\bigr)
                 \bigl(\Sigma_T + \lambda_W I + \kappa\,\mu_G\mu_G^\top\bigr)^{-1},\quad
        b_{LS} = \frac{\pi - W_{LS}\mu_G}{1 + \lambda_b},\quad \kappa = \frac{\lambda_b}{1 + \lambda_b}.

    Eliminating the bias first keeps the computation centred (accurate for features far from the
    origin). With ``lambda_W = 0`` and a singular matrix the minimiser is not unique; the one with the
    smallest :math:`\|W\|_F` is returned (the pseudo-inverse, as in Proposition 1).

    Parameters
    ----------
    features : array or tensor of shape (N, p)
        Fixed features ``h_i``.
    labels : array or tensor of shape (N,)
        Class indices ``0..C-1``, every class present (any class sizes: the weights are
        :math:`\pi_c = n_c/N`, which is :math:`1/C` for balanced classes).
    lambda_W : float, default 0
        Weight decay on ``W`` (``>= 0``); ``ncedu.train`` with weight decay ``omega`` corresponds to
        ``C * omega / 2``.
    lambda_b : float, optional
        Weight decay on ``b`` (``>= 0``); by default ``lambda_W``, as torch's weight decay and Han et
        al.'s appended-bias form have it. ``0`` leaves the bias free (chapter 7's ridge form).

    Returns
    -------
    W : numpy.ndarray of shape (C, p), float64
    b : numpy.ndarray of shape (C,), float64

    Raises
    ------
    ValueError
        Bad shapes, non-finite features, labels that skip a class, negative decays.

    References
    ----------
    Han, Papyan & Donoho (2022), ICLR; Webb & Lowe (1990), Neural Networks 3(4).

    Examples
    --------
    >>> from ncedu.theory import webb_lowe_classifier
    >>> rng = np.random.default_rng(0)
    >>> H, y = rng.standard_normal((30, 4)) + 5, np.repeat(np.arange(3), 10)
    >>> W, b = central_path_classifier(H, y, lambda_W=0.1, lambda_b=0.0)   # free bias: chapter 7's ridge form
    >>> W7, b7 = webb_lowe_classifier(H, y, ridge=0.1)
    >>> bool(np.allclose(W, W7) and np.allclose(b, b7))
    True
    """
    lw, lb = _decays(lambda_W, lambda_b)
    return _minimiser(_stats(features, labels), lw, lb)


# ----------------------------------------------------------------------------------------------
# The decomposition
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MSEDecomposition:
    r"""The squared loss of a classifier split as Han, Papyan & Donoho (2022) split it (:func:`mse_decomposition`).

    Attributes
    ----------
    total : float
        :math:`L(W, b)`, computed directly from the residuals.
    nc1_within : float
        :math:`\frac12\operatorname{tr}(W_{LS}\Sigma_W W_{LS}^\top)`: the within-class variability seen by
        the optimal classifier.
    ridge : float
        :math:`\frac{\lambda_W}{2}\|W_{LS}\|_F^2 + \frac{\lambda_b}{2}\|b_{LS}\|^2`: the weight decay paid at the
        optimum.
    nc2_3 : float
        :math:`L_{NC2/3} = \frac12\sum_c \pi_c\|W_{LS}\mu_c + b_{LS} - e_c\|^2`: how far the optimal scores of the
        class means are from the one-hot targets.
    perp : float
        :math:`L_{LS}^{\perp} \ge 0`: the excess of ``(W, b)`` over the optimum (zero on the central path).
    W_ls : numpy.ndarray of shape (C, p)
        The optimal classifier :math:`W_{LS}` of these features.
    b_ls : numpy.ndarray of shape (C,)

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> H, y = rng.standard_normal((40, 3)), np.repeat(np.arange(4), 10)
    >>> d = mse_decomposition(H, y, rng.standard_normal((4, 3)), np.zeros(4), lambda_W=0.05)
    >>> bool(np.isclose(d.total, d.nc1 + d.nc2_3 + d.perp)), d.perp > 0
    (True, True)
    """

    total: float
    nc1_within: float
    ridge: float
    nc2_3: float
    perp: float
    W_ls: np.ndarray
    b_ls: np.ndarray

    @property
    def nc1(self) -> float:
        r""":math:`L_{NC1} = \frac12\operatorname{tr}(\tilde W_{LS}(\tilde\Sigma_W + \Lambda)\tilde W_{LS}^\top)`, Han et al.'s term: within-class part plus weight decay."""
        return self.nc1_within + self.ridge

    @property
    def least_squares(self) -> float:
        """:math:`L_{LS} = L_{NC1} + L_{NC2/3}`, the loss on the central path (the minimum over ``(W, b)``)."""
        return self.nc1 + self.nc2_3


def _decompose(s: _Stats, W: np.ndarray, b: np.ndarray, lw: float, lb: float) -> MSEDecomposition:
    W_ls, b_ls = _minimiser(s, lw, lb)
    scores = W_ls @ (s.means - s.mu_G).T + (W_ls @ s.mu_G + b_ls)[:, None] - np.eye(s.C)   # (C, C): column c
    dW, db = W - W_ls, b - b_ls
    shift = dW @ s.mu_G + db
    return MSEDecomposition(
        total=_objective(s, W, b, lw, lb),
        nc1_within=0.5 * float(np.sum((W_ls @ s.Sigma_W) * W_ls)),
        ridge=0.5 * (lw * float(np.sum(W_ls * W_ls)) + lb * float(b_ls @ b_ls)),
        nc2_3=0.5 * float(np.sum(s.pi * np.sum(scores * scores, axis=0))),
        perp=0.5 * (float(np.sum((dW @ s.Sigma_T) * dW)) + float(shift @ shift) + lw * float(np.sum(dW * dW))
                    + lb * float(db @ db)),
        W_ls=W_ls, b_ls=b_ls)


def mse_decomposition(features: ArrayLike, labels: ArrayLike, W: ArrayLike, b: Optional[ArrayLike] = None, *,
                      lambda_W: float = 0.0, lambda_b: Optional[float] = None) -> MSEDecomposition:
    r"""Split the squared loss of ``(W, b)`` on fixed features into :math:`L_{NC1} + L_{NC2/3} + L_{LS}^{\perp}`.

    With the central-path classifier :math:`(W_{LS}, b_{LS})` (:func:`central_path_classifier`),

    .. math::

        L(W, b) = \underbrace{\tfrac12\operatorname{tr}\bigl(W_{LS}\Sigma_W W_{LS}^\top\bigr)
                  + \tfrac{\lambda_W}{2}\|W_{LS}\|_F^2 + \tfrac{\lambda_b}{2}\|b_{LS}\|^2}_{L_{NC1}}
                + \underbrace{\tfrac12\textstyle\sum_c \pi_c\|W_{LS}\mu_c + b_{LS} - e_c\|^2}_{L_{NC2/3}}
                + L_{LS}^{\perp}(W, b),

    :math:`L_{LS}^{\perp}` the quadratic excess of the module docstring (Han, Papyan & Donoho 2022; their
    :math:`\tilde W` has the bias appended and :math:`\lambda_W = \lambda_b = \lambda`). ``total`` is computed
    directly from the residuals, so ``total == nc1 + nc2_3 + perp`` is a check, not a definition.

    Parameters
    ----------
    features : array or tensor of shape (N, p)
        Fixed features ``h_i``.
    labels : array or tensor of shape (N,)
        Class indices ``0..C-1``, every class present.
    W : array or tensor of shape (C, p)
        The classifier to split the loss of, one row per class.
    b : array or tensor of shape (C,), optional
        Its bias (zero if omitted).
    lambda_W : float, default 0
        Weight decay on ``W`` in this normalisation (``C * omega / 2`` for ``ncedu.train``'s ``omega``).
    lambda_b : float, optional
        Weight decay on ``b``; by default ``lambda_W``.

    Returns
    -------
    MSEDecomposition

    References
    ----------
    Han, Papyan & Donoho (2022), "Neural collapse under MSE loss: Proximity to and dynamics on the
    central path", ICLR.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> H, y = rng.standard_normal((60, 5)), np.repeat(np.arange(3), 20)
    >>> W_ls, b_ls = central_path_classifier(H, y, lambda_W=0.01)
    >>> on_path = mse_decomposition(H, y, W_ls, b_ls, lambda_W=0.01)    # on the central path: no excess
    >>> bool(on_path.perp < 1e-12), bool(np.isclose(on_path.total, on_path.least_squares))
    (True, True)
    """
    s = _stats(features, labels)
    Wt, bt = check_classifier(W, b, s.C, s.H.shape[1])
    Wm = Wt.cpu().double().numpy()
    bm = np.zeros(s.C) if bt is None else bt.cpu().double().numpy()
    lw, lb = _decays(lambda_W, lambda_b)
    return _decompose(s, Wm, bm, lw, lb)


# ----------------------------------------------------------------------------------------------
# The signal-to-noise ratio
# ----------------------------------------------------------------------------------------------


def _snr(s: _Stats) -> np.ndarray:
    p = s.H.shape[1]
    k = min(s.C - 1, p)
    values, vectors = np.linalg.eigh((s.Sigma_W + s.Sigma_W.T) / 2)
    # rounding errors of the deviations scale with the uncentred features, not with their spread
    scale = max(values[-1], np.linalg.norm(s.H, 2) ** 2 / len(s.y))
    if values[-1] <= 0 or values[0] <= max(len(s.y), p) * np.finfo(np.float64).eps * scale:
        warnings.warn("the within-class covariance Sigma_W is singular (exactly collapsed features, fewer than "
                      "N - C >= p samples, or a feature dimension without within-class variation), so the "
                      "signal-to-noise ratio M Sigma_W^{-1/2} is undefined; reported as NaN", RuntimeWarning,
                      stacklevel=3)
        return np.full(k, np.nan)
    whitened = ((s.means - s.mu_G) @ vectors) / np.sqrt(values)
    return np.linalg.svd(whitened, compute_uv=False)[:k]


def snr_singular_values(features: ArrayLike, labels: ArrayLike) -> np.ndarray:
    r"""The singular values of the signal-to-noise matrix :math:`M\Sigma_W^{-1/2}`, largest first.

    Han, Papyan & Donoho (2022) write it :math:`\Sigma_W^{-1/2}\bar M` (the paper's columns). Its squared
    singular values :math:`\omega_j^2` are the eigenvalues of :math:`\Sigma_W^{-1}M^\top M`, i.e. ``C`` times
    those of Fisher's discriminant matrix :math:`\Sigma_W^{-1}\Sigma_B` (balanced classes). They do not
    change when the features are mapped by an invertible affine map :math:`h \mapsto Ah + t`.

    Parameters
    ----------
    features : array or tensor of shape (N, p)
        Features ``h_i``.
    labels : array or tensor of shape (N,)
        Class indices ``0..C-1``, every class present.

    Returns
    -------
    numpy.ndarray of shape (min(C - 1, p),)
        :math:`\omega_1 \ge \omega_2 \ge \dots`. NaN, with a ``RuntimeWarning``, when :math:`\Sigma_W` is
        singular, where the ratio is undefined: its smallest eigenvalue at most ``max(N, p) * eps`` times
        the largest eigenvalue of the uncentred second moment :math:`\frac1N\sum_i h_ih_i^\top` (below that,
        the within-class deviations are rounding errors of the features).

    References
    ----------
    Han, Papyan & Donoho (2022), ICLR.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> H, y = rng.standard_normal((300, 4)), np.repeat(np.arange(3), 100)
    >>> A = rng.standard_normal((4, 4))                       # any invertible linear map
    >>> bool(np.allclose(snr_singular_values(H, y), snr_singular_values(H @ A.T + 7.0, y)))
    True
    """
    return _snr(_stats(features, labels))


# ----------------------------------------------------------------------------------------------
# Along a recorded run
# ----------------------------------------------------------------------------------------------


def central_path_along_training(history: History, *, lambda_W: Optional[float] = None,
                                lambda_b: Optional[float] = None) -> dict[str, np.ndarray]:
    r"""The decomposition of the loss and the signal-to-noise ratio at every measured epoch of a run.

    On the History's sampled training features and its ``(W, b)`` at each measured epoch:
    :func:`mse_decomposition` (keys ``total``, ``nc1_within``, ``ridge``, ``nc1``, ``nc2_3``, ``perp``,
    ``least_squares`` and ``perp_share`` = ``perp / total``), :func:`snr_singular_values` (``snr``, shape
    (E, min(C - 1, p)); NaN at epochs where :math:`\Sigma_W` is singular, with one ``RuntimeWarning`` for
    the run) and :math:`\sum_j \omega_j^{-2}` (``snr_nc1``, a lower bound of NC1), and ``epoch``.

    Parameters
    ----------
    history : History
        A run recorded with ``sample_features`` (``ncedu.train`` records them; set
        ``samples_per_class`` large enough to record all training features for the exact loss).
    lambda_W : float, optional
        Weight decay on ``W`` in this module's normalisation; by default ``C * omega / 2`` with ``omega``
        the run's ``config["weight_decay"]`` (what ``ncedu.train``'s loss with weight decay is, times
        ``C / 2``).
    lambda_b : float, optional
        Weight decay on ``b``; by default ``lambda_W`` (torch's weight decay acts on the bias too).

    Returns
    -------
    dict of numpy.ndarray
        Each of shape (E,), except ``snr`` (E, min(C - 1, p)).

    Examples
    --------
    >>> from ncedu import History, simplex_etf
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(3), 20)
    >>> H = 3 * simplex_etf(3, 4)[y] + rng.standard_normal((60, 4))
    >>> h = History(config={"weight_decay": 0.0}, sample_labels=y)
    >>> W, b = central_path_classifier(H, y)
    >>> h.append(epoch=1, sample_features=H, W=W, b=b, class_means=np.zeros((3, 4)))
    >>> out = central_path_along_training(h)
    >>> bool(out["perp"][0] < 1e-12), out["snr"].shape
    (True, (1, 2))
    """
    history = _history(history)
    y = np.asarray(history.sample_labels)
    C = int(y.max()) + 1
    if lambda_W is None:
        omega = history.config.get("weight_decay") if history.config else None
        if omega is None:
            raise ValueError("the run's config has no weight_decay: pass lambda_W")
        lambda_W = C * float(omega) / 2
    lw, lb = _decays(lambda_W, lambda_b)
    rows, snr = [], []
    for k in range(len(history)):
        s = _stats_of(np.asarray(history["sample_features"][k], dtype=np.float64), y, C)
        d = _decompose(s, np.asarray(history["W"][k], np.float64), np.asarray(history["b"][k], np.float64), lw, lb)
        rows.append({"total": d.total, "nc1_within": d.nc1_within, "ridge": d.ridge, "nc1": d.nc1,
                     "nc2_3": d.nc2_3, "perp": d.perp, "least_squares": d.least_squares,
                     "perp_share": d.perp / d.total if d.total > 0 else np.nan})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            snr.append(_snr(s))
    out = {key: np.array([row[key] for row in rows]) for key in rows[0]}
    undefined = [int(e) for e, w in zip(history["epoch"], snr) if np.isnan(w).any()]
    if undefined:
        warnings.warn(f"Sigma_W is singular at {len(undefined)} of {len(history)} measured epochs (from epoch "
                      f"{undefined[0]}): the signal-to-noise ratio is undefined there and reported as NaN",
                      RuntimeWarning, stacklevel=2)
    out["snr"] = np.array(snr)
    out["snr_nc1"] = np.sum(out["snr"] ** -2.0, axis=1)
    out["epoch"] = np.asarray(history["epoch"])
    return out
