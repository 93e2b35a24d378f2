r"""Gradient flow on the central path (Han, Papyan & Donoho, ICLR 2022): simulated, and in closed form.

Notation and the central-path classifier :math:`(W_{LS}, b_{LS})` of :mod:`ncedu.theory.central_path`.
With no weight decay the loss on the central path, :math:`L_{LS}(H) = \min_{W, b} L(W, b; H)`, does not
change when the features are mapped by an invertible affine map, so they may be *renormalised* to
:math:`\Sigma_W = I` at any time. :func:`central_path_flow` runs gradient descent on the features along
the central path, either restricted to renormalised features (only the class means move: the gradient
flow on the manifold :math:`\{\Sigma_W = I\}`) or with the within-class deviations moving too and the
features renormalised after each step. For balanced classes with ``rank M = C - 1`` the singular values
:math:`\omega_j` of the signal-to-noise matrix :math:`M\Sigma_W^{-1/2}` then obey

.. math::

    \dot\omega = \frac{C\omega}{(C+\omega^2)^2} \;\Longleftrightarrow\;
    C\log\omega + \omega^2 + \frac{\omega^4}{4C} = t + a
    \qquad\text{or}\qquad
    \dot\omega = \frac{\omega}{C+\omega^2} \;\Longleftrightarrow\; C\log\omega + \frac{\omega^2}{2} = t + a,

:func:`central_path_clock` (derived in the book's chapter "MSE loss and the central path").

References
----------
X. Y. Han, V. Papyan, D. L. Donoho, "Neural collapse under MSE loss: Proximity to and dynamics on the
central path", ICLR 2022.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .._validation import ArrayLike, check_bool, check_int, check_real
from ..metrics import measure
from ._inputs import _record_steps
from .central_path import _minimiser, _objective, _snr, _stats, _stats_of, _Stats

__all__ = ["CentralPathFlow", "central_path_flow", "central_path_clock"]

@dataclass(frozen=True)
class CentralPathFlow:
    r"""Gradient descent on the central path, recorded (:func:`central_path_flow`).

    Attributes
    ----------
    steps : numpy.ndarray of shape (E,), int
        The recorded iterations (0 is the renormalised start).
    time : numpy.ndarray of shape (E,)
        ``lr * steps``, the time of the flow it discretises.
    snr : numpy.ndarray of shape (E, min(C - 1, p))
        The singular values :math:`\omega_j` of the signal-to-noise matrix, largest first.
    loss : numpy.ndarray of shape (E,)
        The loss on the central path, :math:`L_{LS}` with ``lambda = 0``.
    nc1 : numpy.ndarray of shape (E,)
        NC1 of the (renormalised) features.
    features : numpy.ndarray of shape (N, p)
        The features after the last step.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(3), 30)
    >>> flow = central_path_flow(rng.standard_normal((90, 2)) + np.eye(3, 2)[y], y, steps=20, lr=0.5,
    ...                          record_at=range(0, 21, 5))
    >>> flow.steps.tolist(), flow.snr.shape, bool(np.all(np.diff(flow.snr[:, 0]) > 0))
    ([0, 5, 10, 15, 20], (5, 2), True)
    """

    steps: np.ndarray
    time: np.ndarray
    snr: np.ndarray
    loss: np.ndarray
    nc1: np.ndarray
    features: np.ndarray


def _renormalise(H: np.ndarray, y: np.ndarray, C: int) -> np.ndarray:
    """``(H - mu_G) Sigma_W^{-1/2}``: features with identity within-class covariance and mean zero."""
    s = _stats_of(H, y, C)
    values, vectors = np.linalg.eigh((s.Sigma_W + s.Sigma_W.T) / 2)
    scale = max(values[-1], np.linalg.norm(H, 2) ** 2 / len(y))
    if values[0] <= max(H.shape) * np.finfo(np.float64).eps * scale:
        raise ValueError("features have a singular within-class covariance Sigma_W, so they cannot be renormalised "
                         f"to Sigma_W = I: give at least N - C >= p samples ({len(y)} - {C} < {H.shape[1]}?) with "
                         "within-class variation in every feature dimension")
    return (H - s.mu_G) @ vectors @ np.diag(values ** -0.5) @ vectors.T


def central_path_flow(features: ArrayLike, labels: ArrayLike, *, steps: int = 1000, lr: float = 0.5,
                      noise_step: bool = False, record_at: Optional[Sequence[int]] = None,
                      num_records: int = 40) -> CentralPathFlow:
    r"""Gradient descent on the features along the central path (``lambda = 0``), renormalised to :math:`\Sigma_W = I`.

    The features are first renormalised, :math:`h_i \leftarrow \Sigma_W^{-1/2}(h_i - \mu_G)`. At every step the
    classifier is the optimum of the current features, :math:`(W, b) = (W_{LS}, b_{LS})`
    (:func:`central_path_classifier` with no weight decay), so by the envelope theorem the gradient of the
    central-path loss :math:`L_{LS}(H) = \min_{W, b} L` with respect to :math:`h_i` is
    :math:`\frac1N W^\top(a_{y_i} + W z_i)`, with :math:`a_c = W\mu_c + b - e_c` and :math:`z_i = h_i - \mu_{y_i}`.

    * ``noise_step=False`` (the flow restricted to renormalised features): only the class means move,
      :math:`h_i \leftarrow h_i - \mathrm{lr}\, W^\top a_{y_i}`. The within-class part :math:`W^\top W z_i` of the
      gradient is orthogonal to the manifold :math:`\{\Sigma_W = I\}` there, so this is the projected
      gradient, and :math:`\Sigma_W` stays exactly ``I``.
    * ``noise_step=True``: every feature takes the full step :math:`h_i \leftarrow h_i - \mathrm{lr}\,
      W^\top(a_{y_i} + W z_i)` (``N`` times the gradient), then the features are renormalised again (which
      changes neither the loss nor the signal-to-noise ratio).

    For balanced classes and ``rank M = C - 1`` the singular values follow :func:`central_path_clock` as
    ``lr -> 0`` (time ``t = lr * steps``).

    Parameters
    ----------
    features : array or tensor of shape (N, p)
        The starting features; :math:`\Sigma_W` must be invertible (``N - C >= p``).
    labels : array or tensor of shape (N,)
        Class indices ``0..C-1``, every class present.
    steps : int, default 1000
        The number of steps.
    lr : float, default 0.5
        The step size ``> 0``.
    noise_step : bool, default False
        Whether the within-class deviations take their gradient step too (see above).
    record_at : sequence of int, optional
        Steps (``0..steps``) at which to record; ``0`` and ``steps`` are always added. Default:
        ``num_records`` log-spaced steps.
    num_records : int, default 40
        See ``record_at``.

    Returns
    -------
    CentralPathFlow

    Raises
    ------
    ValueError
        For a singular :math:`\Sigma_W`, a non-positive ``lr`` or bad ``steps``/``record_at``, and when the
        features stop being finite (the step size is too large for the flow).

    References
    ----------
    Han, Papyan & Donoho (2022), ICLR (continually renormalised gradient flow on the central path).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> y = np.repeat(np.arange(4), 40)
    >>> H = rng.standard_normal((160, 3)) + 1.5 * np.eye(4, 3)[y]
    >>> flow = central_path_flow(H, y, steps=200, lr=1.0, record_at=[100])
    >>> flow.steps.tolist(), bool(flow.loss[-1] < flow.loss[0])
    ([0, 100, 200], True)
    """
    s0 = _stats(features, labels)
    y, C = s0.y, s0.C
    steps = check_int(steps, "steps", minimum=1)
    lr = check_real(lr, "lr", minimum=0.0, include_minimum=False)
    noise_step = check_bool(noise_step, "noise_step")
    record = np.union1d([0], _record_steps(steps, record_at, num_records))
    H = _renormalise(s0.H, y, C)
    onehot = np.eye(C)[y]
    out: dict[str, list] = {"steps": [], "snr": [], "loss": [], "nc1": []}

    def log(k: int, s: _Stats) -> None:
        W, b = _minimiser(s, 0.0, 0.0)
        out["steps"].append(k)
        out["snr"].append(_snr(s))
        out["loss"].append(_objective(s, W, b, 0.0, 0.0))
        out["nc1"].append(measure(s.H, y).nc1)

    j = 0
    for k in range(steps + 1):
        s = _stats_of(H, y, C)
        if j < len(record) and k == record[j]:
            log(k, s)
            j += 1
        if k == steps:
            break
        W, b = _minimiser(s, 0.0, 0.0)
        residual_means = s.means @ W.T + b - np.eye(C)          # (C, C): row c is a_c
        if noise_step:
            H = H - lr * ((H @ W.T + b - onehot) @ W)
        else:
            H = H - lr * (residual_means @ W)[y]
        if not np.all(np.isfinite(H)):
            raise ValueError(f"the features became non-finite at step {k + 1} of {steps}: lr={lr:g} is too large "
                             f"for this flow; try lr={lr / 10:g}")
        if noise_step:
            H = _renormalise(H, y, C)
    return CentralPathFlow(steps=np.array(out["steps"]), time=lr * np.array(out["steps"], dtype=np.float64),
                           snr=np.array(out["snr"]), loss=np.array(out["loss"]), nc1=np.array(out["nc1"]),
                           features=H)


def central_path_clock(omega: ArrayLike, num_classes: int, *, noise_step: bool = False) -> np.ndarray:
    r"""The time the central-path flow takes to reach a signal-to-noise singular value, up to a constant.

    Along :func:`central_path_flow` (balanced classes, ``rank M = C - 1``) each singular value solves
    :math:`\dot\omega = C\omega/(C + \omega^2)^2` (renormalised) or :math:`\dot\omega = \omega/(C + \omega^2)`
    (``noise_step=True``), so :math:`F(\omega(t)) = t + F(\omega(0))` with

    .. math::

        F(\omega) = C\log\omega + \omega^2 + \frac{\omega^4}{4C}
        \qquad\text{or}\qquad F(\omega) = C\log\omega + \frac{\omega^2}{2} .

    The first has the form :math:`c_1\log\omega + c_2\omega^2 + c_3\omega^4` of the closed-form dynamics of
    Han, Papyan & Donoho (2022); as :math:`t \to \infty`, :math:`\omega \sim (4Ct)^{1/4}` for every
    :math:`j`, so the ratios :math:`\omega_j/\omega_k` tend to 1.

    Parameters
    ----------
    omega : array of positive floats
        Singular values :math:`\omega`.
    num_classes : int
        ``C >= 2``.
    noise_step : bool, default False
        The flow of ``central_path_flow(..., noise_step=True)``.

    Returns
    -------
    numpy.ndarray
        :math:`F(\omega)`, of the shape of ``omega``.

    Examples
    --------
    >>> F = central_path_clock(np.array([1.0, 2.0]), 4)
    >>> float(F[1] - F[0])                          # the time from omega = 1 to omega = 2 (C = 4)
    6.710088722239782
    """
    C = check_int(num_classes, "num_classes", minimum=2)
    noise_step = check_bool(noise_step, "noise_step")
    w = np.asarray(omega, dtype=np.float64)
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError("omega must hold positive finite singular values")
    if noise_step:
        return C * np.log(w) + w ** 2 / 2
    return C * np.log(w) + w ** 2 + w ** 4 / (4 * C)
