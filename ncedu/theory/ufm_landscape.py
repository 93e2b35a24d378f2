r"""The curvature of the unconstrained features model at one configuration.

The objective ``f(H, W, b)`` and its exact gradient are those of :mod:`ncedu.theory.ufm`. Its Hessian
tells a critical point's kind: a local minimum has no negative eigenvalue, a *strict saddle* has
at least one (Zhu et al. 2021, Theorem 3.2, prove that for ``p > C`` every critical point that is
not a global minimiser is one). :func:`ufm_hessian` computes the Hessian by central differences of
the exact gradient, which is accurate to about ``step**2`` times the third derivatives and needs
``2 D`` gradient evaluations for ``D = (N + C) p + C`` variables: a tool for the small models of
the book's chapters, not for large ones.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .._validation import ArrayLike, check_real
from .ufm import _prepare, ufm_gradients

__all__ = ["ufm_hessian"]


def ufm_hessian(H: ArrayLike, W: ArrayLike, b: Optional[ArrayLike], labels: ArrayLike, *,
                loss: str = "cross_entropy", lambda_H: float = 1e-2, lambda_W: float = 1e-2,
                lambda_b: float = 1e-2, step: float = 1e-5) -> np.ndarray:
    r"""The Hessian of the UFM objective at ``(H, W, b)``, by central differences of the exact gradient.

    With the variables stacked as :math:`x = (\operatorname{vec} H, \operatorname{vec} W, b)` (row-major,
    as ``numpy.ravel``) and :math:`g = \nabla f` of :func:`~ncedu.theory.ufm_gradients`, column ``k`` is

    .. math::

        \frac{g(x + \epsilon e_k) - g(x - \epsilon e_k)}{2\epsilon},

    and the result is symmetrised, :math:`\frac12(A + A^\top)`. Its error is :math:`O(\epsilon^2)`.

    Parameters
    ----------
    H, W, b, labels, loss, lambda_H, lambda_W, lambda_b :
        As in :func:`~ncedu.theory.ufm_objective`; ``b=None`` is the model without a bias (no bias
        variables).
    step : float, default 1e-5
        The difference step :math:`\epsilon`, positive.

    Returns
    -------
    numpy.ndarray of shape (D, D), float64
        Symmetric, ``D = (N + C) p + C`` (``(N + C) p`` without a bias).

    Examples
    --------
    At the origin with ``C = 2`` classes of one sample each, ``p = 1`` and small decays, the origin
    is a strict saddle (a negative eigenvalue; chapter "The unconstrained features model"):

    >>> import numpy as np
    >>> A = ufm_hessian(np.zeros((2, 1)), np.zeros((2, 1)), np.zeros(2), [0, 1])
    >>> A.shape, bool(np.linalg.eigvalsh(A)[0] < 0)
    ((6, 6), True)
    """
    step = check_real(step, "step", minimum=0.0, include_minimum=False)
    Hm, Wm, bm, y, loss, (lam_H, lam_W, lam_b) = _prepare(H, W, b, labels, loss, (lambda_H, lambda_W, lambda_b))
    shapes = [Hm.shape, Wm.shape] + ([] if b is None else [bm.shape])
    sizes = [int(np.prod(s)) for s in shapes]
    x0 = np.concatenate([Hm.ravel(), Wm.ravel()] + ([] if b is None else [bm]))

    def gradient(x: np.ndarray) -> np.ndarray:
        parts = [part.reshape(s) for part, s in zip(np.split(x, np.cumsum(sizes)[:-1]), shapes)]
        Hx, Wx, bx = parts[0], parts[1], (parts[2] if b is not None else None)
        _, dH, dW, db = ufm_gradients(Hx, Wx, bx, y, loss=loss, lambda_H=lam_H, lambda_W=lam_W, lambda_b=lam_b)
        return np.concatenate([dH.ravel(), dW.ravel()] + ([] if db is None else [db]))

    columns = []
    for k in range(x0.size):
        e = np.zeros_like(x0)
        e[k] = step
        columns.append((gradient(x0 + e) - gradient(x0 - e)) / (2 * step))
    A = np.array(columns).T
    return (A + A.T) / 2
