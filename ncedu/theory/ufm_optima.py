r"""Global minimisers of the unconstrained features model in closed form, where they are known.

Notation and objective of :mod:`ncedu.theory.ufm`: ``f(H, W, b)`` with the feature decay
:math:`\frac{\lambda_H}{2N}\|H\|_F^2` (Zhu et al. 2021 write :math:`\frac{\lambda_H}{2}\|H\|_F^2`, so
their :math:`\lambda_H` is ours divided by ``N``). ``P = I - 11^T/C``.

**Cross-entropy, balanced classes** (``n`` per class, ``p >= C - 1``, ``lambda_W, lambda_H > 0``,
any ``lambda_b >= 0``, with or without a bias). Zhu et al. (2021, Theorem 3.1) prove that every
global minimiser has NC1 (``h_i = hbar_{y_i}``), a constant bias (``b = 0`` when ``lambda_b > 0``),
classifier rows of one norm :math:`\rho_W` forming a simplex ETF and self-dual means
:math:`\bar h_c = \sqrt{C\lambda_W/\lambda_H}\, w_c` (their :math:`\sqrt{\lambda_W/(n\lambda_H)}`). On
that family the scores are :math:`s = \rho_W\rho_H` for the own class and :math:`-s/(C-1)` for the
others, so

.. math::

    f = \log\bigl(1 + (C-1)e^{-Cs/(C-1)}\bigr) + \tfrac12\bigl(C\lambda_W\rho_W^2 + \lambda_H\rho_H^2\bigr),

and for a given product ``s`` the penalty is smallest, :math:`\kappa s` with
:math:`\kappa = \sqrt{C\lambda_W\lambda_H}`, when :math:`C\lambda_W\rho_W^2 = \lambda_H\rho_H^2` (the
arithmetic-geometric mean inequality). The function :math:`\varphi(s) = \log(1 + (C-1)e^{-Cs/(C-1)}) +
\kappa s` is convex with :math:`\varphi'(s) = \kappa - Cu/(1 + (C-1)u)`, :math:`u = e^{-Cs/(C-1)}`, hence

* if :math:`\kappa < 1`: :math:`s^* = \frac{C-1}{C}\log\frac{C - (C-1)\kappa}{\kappa}`,
  :math:`f^* = \log\frac{C}{C - (C-1)\kappa} + \kappa s^*`,
  :math:`\rho_W^2 = s^*\sqrt{\lambda_H/(C\lambda_W)}`, :math:`\rho_H^2 = s^*\sqrt{C\lambda_W/\lambda_H}`;
* if :math:`\kappa \ge 1`: :math:`\varphi' \ge 0`, so :math:`s^* = 0`: the minimiser is
  ``W = 0``, ``H = 0``, ``b = 0`` with :math:`f^* = \log C` (the decays are so strong that the model
  predicts the uniform distribution; no collapse geometry is defined).

The form is Zhu et al.'s theorem; the scale is derived here from it (and checked against gradient
descent in the tests).

**Squared error** :math:`\ell = \frac12\|z - e_y\|^2`, ``lambda_W, lambda_H > 0``. For fixed
``(W, b)`` the objective is strictly convex in each ``h_i``, the same function for every sample of a
class, so every minimiser has NC1; write ``Hbar`` (C, p) for the class means. For a product ``Z`` of
rank at most ``p``, :math:`\min\{\frac{\alpha}{2}\|A\|_F^2 + \frac{\beta}{2}\|B\|_F^2 : AB^\top = Z\} =
\sqrt{\alpha\beta}\,\|Z\|_*` (the variational form of the nuclear norm), attained at
:math:`A = \gamma U S^{1/2}`, :math:`B = \gamma^{-1} V S^{1/2}` with :math:`\gamma^4 = \beta/\alpha` for
:math:`Z = USV^\top`.

* *No bias* (``bias=False``), any counts ``n_c``. With :math:`\tilde H = D^{1/2}\bar H`,
  ``D = diag(n_c)``, :math:`f = \frac1{2N}\|W\tilde H^\top - D^{1/2}\|_F^2 + \frac{\lambda_W}2\|W\|_F^2 +
  \frac{\lambda_H}{2N}\|\tilde H\|_F^2`, so :math:`\tilde Z = W\tilde H^\top` minimises
  :math:`\frac1{2N}\|\tilde Z - D^{1/2}\|_F^2 + \sqrt{\lambda_W\lambda_H/N}\|\tilde Z\|_*`, whose
  solution is singular-value soft-thresholding of the diagonal :math:`D^{1/2}`:
  :math:`\tilde Z = \operatorname{diag}((\sqrt{n_c} - t)_+)`, :math:`t = \sqrt{N\lambda_W\lambda_H}`. Hence
  :math:`WW^\top = \sqrt{\lambda_H/(N\lambda_W)}\,\operatorname{diag}((\sqrt{n_c} - t)_+)`: orthogonal
  classifier rows, an *orthogonal frame* (Tirer & Bruna 2022 for balanced classes), with
  :math:`\bar h_c = \sqrt{N\lambda_W/(\lambda_H n_c)}\, w_c`; a class with :math:`\sqrt{n_c} \le t` gets
  :math:`w_c = 0 = \bar h_c`. :math:`f^* = \sum_c \bigl[\min(n_c, t^2)/(2N) + \sqrt{\lambda_W\lambda_H/N}
  (\sqrt{n_c} - t)_+\bigr]`. Needs ``p >=`` the number of classes with :math:`\sqrt{n_c} > t`.
* *With a bias*, balanced classes. With :math:`Z = W\bar H^\top` the penalty is at least
  :math:`\frac{\tau}{C}\|Z\|_*`, :math:`\tau = \sqrt{C\lambda_W\lambda_H}`, and the best bias for ``Z``
  is :math:`b = (\mathbf 1 - Z\mathbf 1)/(C(1 + \lambda_b))`, which leaves
  :math:`\frac1{2C}\|ZP - P\|_F^2 + \frac{\mu}{2C^2}\|Z\mathbf 1 - \mathbf 1\|^2 + \frac{\tau}{C}\|Z\|_*`,
  :math:`\mu = \lambda_b/(1+\lambda_b)`. It is convex and invariant under ``Z -> Pi Z Pi^T`` for
  every permutation ``Pi``, so it has a minimiser :math:`Z = xP + y\,\mathbf 1\mathbf 1^\top/C`, with
  :math:`x = (1 - \tau)_+` and :math:`y = (1 - \tau/\mu)_+` (``y = 0`` for ``lambda_b = 0``). Then
  :math:`WW^\top = \gamma^2 Z`, :math:`\bar H\bar H^\top = Z/\gamma^2`, :math:`\gamma^4 = \lambda_H/(C\lambda_W)`,
  :math:`\bar h_c = w_c/\gamma^2`, :math:`b = \frac{1 - y}{C(1+\lambda_b)}\mathbf 1`. With an
  unregularised bias (``y = 0``, ``b = 1/C``) the rows are a centred simplex ETF (Zhou et al. 2022;
  Mixon et al.'s :math:`b = \frac1C\mathbf 1`); a regularised one adds a common component
  (``y > 0``) and moves the rows towards the orthogonal frame, reached as ``lambda_b -> inf``.
  :math:`f^* = \frac{C-1}{2C}(x-1)^2 + \frac{\tau(C-1)}{C}x + \frac{\mu}{2C}(y-1)^2 + \frac{\tau}{C}y`.
  Needs ``p >= (C - 1)[x > 0] + [y > 0]``.

Where no closed form is known (cross-entropy with imbalanced classes: minority collapse, Fang et al.
2021; the squared error with a bias and imbalanced classes; ``p`` too small) :func:`ufm_optimum`
says so; use :func:`ncedu.theory.train_ufm`.

References
----------
Z. Zhu, T. Ding, J. Zhou, X. Li, C. You, J. Sulam, Q. Qu, "A geometric analysis of neural collapse
with unconstrained features", NeurIPS 2021 (Theorem 3.1).

J. Zhou, X. Li, T. Ding, C. You, Q. Qu, Z. Zhu, "On the optimization landscape of neural collapse
under MSE loss: Global optimality with unconstrained features", ICML 2022.

T. Tirer, J. Bruna, "Extended unconstrained features model for exploring deep neural collapse",
ICML 2022.

D. G. Mixon, H. Parshall, J. Pi, "Neural collapse with unconstrained features", Sampling Theory,
Signal Processing, and Data Analysis 20 (2022).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_bool, check_int
from ..geometry import simplex_etf
from .ufm import _check_counts, _check_decays, _check_loss

__all__ = ["UFMOptimum", "ufm_optimum"]


@dataclass(frozen=True, eq=False)
class UFMOptimum:
    """A global minimiser of the unconstrained features model (one representative).

    The minimiser is unique up to a rotation of ``R^p`` (applied to ``W`` and the features alike)
    and, for the cross-entropy with ``lambda_b = 0``, a constant added to every bias; the Gram
    matrices, norms, biases and the objective do not depend on the representative.

    Attributes
    ----------
    W : numpy.ndarray of shape (C, p)
        The classifier rows ``w_c``.
    b : numpy.ndarray of shape (C,)
        The bias (zeros without a bias).
    class_means : numpy.ndarray of shape (C, p)
        ``hbar_c``: every feature of class ``c`` equals it (NC1).
    labels : numpy.ndarray of shape (N,)
        The labels, in blocks (:func:`ncedu.theory.ufm_labels`).
    objective : float
        The minimum value ``f*``.
    geometry : str
        ``"simplex ETF"``, ``"orthogonal frame"``, ``"simplex ETF plus a common component"``,
        ``"orthogonal, with zero rows"`` (imbalanced squared error) or ``"origin"`` (all zero).

    Examples
    --------
    >>> opt = ufm_optimum(3, 2, 5, lambda_H=0.1, lambda_W=0.1, lambda_b=0.1)
    >>> opt.geometry, opt.features.shape, bool(np.allclose(opt.classifier_norms, opt.classifier_norms[0]))
    ('simplex ETF', (15, 2), True)
    """

    W: np.ndarray
    b: np.ndarray
    class_means: np.ndarray
    labels: np.ndarray
    objective: float
    geometry: str

    @property
    def features(self) -> np.ndarray:
        """``H`` (N, p): the class mean of every sample."""
        return self.class_means[self.labels]

    @property
    def classifier_norms(self) -> np.ndarray:
        """``||w_c||`` for every class."""
        return np.linalg.norm(self.W, axis=1)

    @property
    def feature_norms(self) -> np.ndarray:
        """``||hbar_c||`` for every class."""
        return np.linalg.norm(self.class_means, axis=1)

    def gram_W(self) -> np.ndarray:
        """The Gram matrix of the classifier rows, independent of the representative.

        Returns
        -------
        numpy.ndarray of shape (C, C)
            ``W W^T``.
        """
        return self.W @ self.W.T

    def gram_means(self) -> np.ndarray:
        """The Gram matrix of the class means, independent of the representative.

        Returns
        -------
        numpy.ndarray of shape (C, C)
            ``Hbar Hbar^T``.
        """
        return self.class_means @ self.class_means.T


def _from_gram(G: np.ndarray, p: int) -> np.ndarray:
    """Rows with Gram matrix ``G`` (symmetric PSD of rank <= p), in the first coordinates of ``R^p``."""
    values, vectors = np.linalg.eigh(G)
    keep = values > 1e-12 * max(1.0, float(values.max()))
    rows = vectors[:, keep] * np.sqrt(values[keep])
    out = np.zeros((G.shape[0], p))
    out[:, : rows.shape[1]] = rows[:, ::-1]
    return out


def _cross_entropy(C: int, p: int, n: int, lam: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray, float, str]:
    lambda_H, lambda_W, _ = lam
    kappa = math.sqrt(C * lambda_W * lambda_H)
    if kappa >= 1:
        return np.zeros((C, p)), np.zeros((C, p)), math.log(C), "origin"
    s = (C - 1) / C * math.log((C - (C - 1) * kappa) / kappa)
    rho_W = math.sqrt(s * math.sqrt(lambda_H / (C * lambda_W)))
    W = rho_W * simplex_etf(C, p)
    objective = math.log(C / (C - (C - 1) * kappa)) + kappa * s
    return W, math.sqrt(C * lambda_W / lambda_H) * W, objective, "simplex ETF"


def _mse_no_bias(counts: np.ndarray, p: int, lam: tuple[float, float, float]):
    lambda_H, lambda_W, _ = lam
    N = float(counts.sum())
    t = math.sqrt(N * lambda_W * lambda_H)
    roots = np.sqrt(counts.astype(np.float64))
    sv = np.maximum(roots - t, 0.0)
    rank = int(np.count_nonzero(sv))
    if rank > p:
        raise ValueError(f"dim={p} is too small: the squared-error optimum without a bias has {rank} orthogonal "
                         "classifier rows, which need dim >= " + str(rank) + " (with fewer dimensions the "
                         "minimisers are not unique and no closed form is given)")
    W = np.zeros((len(counts), p))
    active = np.flatnonzero(sv)
    W[active, np.arange(rank)] = np.sqrt((lambda_H / (N * lambda_W)) ** 0.5 * sv[active])
    means = W * np.sqrt(N * lambda_W / (lambda_H * counts))[:, None]
    objective = float(np.sum(np.minimum(counts, t * t) / (2 * N)) + math.sqrt(lambda_W * lambda_H / N) * sv.sum())
    if rank == 0:
        geometry = "origin"
    elif rank < len(counts):
        geometry = "orthogonal, with zero rows"
    else:
        geometry = "orthogonal frame"
    return W, means, np.zeros(len(counts)), objective, geometry


def _mse_bias(C: int, p: int, lam: tuple[float, float, float]):
    lambda_H, lambda_W, lambda_b = lam
    tau = math.sqrt(C * lambda_W * lambda_H)
    mu = lambda_b / (1.0 + lambda_b)
    x = max(1.0 - tau, 0.0)
    y = max(1.0 - tau / mu, 0.0) if mu > 0 else 0.0
    rank = (C - 1) * (x > 0) + (y > 0)
    if rank > p:
        raise ValueError(f"dim={p} is too small: with these weight decays the squared-error optimum has rank "
                         f"{rank} (a simplex ETF plus a common component), which needs dim >= {rank}")
    Z = x * (np.eye(C) - 1.0 / C) + y / C
    gamma2 = math.sqrt(lambda_H / (C * lambda_W))
    W = _from_gram(gamma2 * Z, p) if rank else np.zeros((C, p))
    b = np.full(C, (1.0 - y) / (C * (1.0 + lambda_b)))
    objective = ((C - 1) / (2 * C) * (x - 1) ** 2 + tau * (C - 1) / C * x + mu / (2 * C) * (y - 1) ** 2
                 + tau / C * y)
    geometry = "origin" if rank == 0 else "simplex ETF" if y == 0 else (
        "simplex ETF plus a common component" if x > 0 else "a common component only")
    return W, W / gamma2, b, objective, geometry


def ufm_optimum(
    num_classes: int,
    dim: int,
    per_class: Any = 20,
    *,
    loss: str = "cross_entropy",
    lambda_H: float = 1e-2,
    lambda_W: float = 1e-2,
    lambda_b: float = 1e-2,
    bias: bool = True,
) -> UFMOptimum:
    r"""The global minimiser of the unconstrained features model, in closed form (see the module docstring).

    Takes the same settings as :func:`ncedu.theory.train_ufm`, so a run and its optimum are
    compared with the same keywords.

    Parameters
    ----------
    num_classes : int
        ``C >= 2``.
    dim : int
        ``p``: at least ``C - 1`` for the cross-entropy, at least the rank of the optimum for the
        squared error.
    per_class : int or sequence of C ints, default 20
        Class counts; they must be equal except for the squared error without a bias.
    loss : {"cross_entropy", "mse"}
    lambda_H, lambda_W : float, default 1e-2
        Must be positive (without weight decay the cross-entropy has no minimiser and the squared
        error has infinitely many of different shapes).
    lambda_b : float, default 1e-2
        ``>= 0``.
    bias : bool, default True

    Returns
    -------
    UFMOptimum

    Raises
    ------
    ValueError
        Where no closed form is known or the settings admit no unique geometry: imbalanced classes
        (except the squared error without a bias), ``dim`` too small, a zero ``lambda_W`` or
        ``lambda_H``; and for invalid settings, as :func:`ncedu.theory.train_ufm`.

    References
    ----------
    Zhu et al. (2021), Theorem 3.1; Zhou et al. (2022); Tirer & Bruna (2022).

    Examples
    --------
    >>> from ncedu import etf_gram
    >>> opt = ufm_optimum(4, 3, 10, lambda_H=1e-2, lambda_W=1e-2)
    >>> opt.geometry, np.allclose(opt.gram_W() / opt.gram_W()[0, 0], etf_gram(4))
    ('simplex ETF', True)
    """
    counts = _check_counts(num_classes, per_class)
    C = len(counts)
    p = check_int(dim, "dim", minimum=1)
    loss = _check_loss(loss)
    lam = _check_decays(lambda_H, lambda_W, lambda_b)
    bias = check_bool(bias, "bias")
    if lam[0] == 0 or lam[1] == 0:
        zero = "lambda_H" if lam[0] == 0 else "lambda_W"
        why = ("without weight decay on both features and classifier the cross-entropy has no minimiser (scaling "
               "H or W up keeps lowering it; gradient descent converges in direction only, Ji et al. 2022)"
               if loss == "cross_entropy" else "without weight decay on both the squared error has minimisers of "
               "many shapes (any W H^T that fits the labels)")
        raise ValueError(f"{zero} must be positive for a closed-form optimum: {why}")
    balanced = bool(np.all(counts == counts[0]))
    labels = np.repeat(np.arange(C), counts)
    if loss == "cross_entropy":
        if not balanced:
            raise ValueError(f"per_class={counts.tolist()}: the cross-entropy optimum has a closed form only for "
                             "balanced classes (Zhu et al. 2021); with imbalance the minority classifiers move "
                             "together (minority collapse, Fang et al. 2021): use train_ufm")
        if p < C - 1:
            raise ValueError(f"dim={p} is too small: the cross-entropy optimum is a simplex ETF, which needs "
                             f"dim >= num_classes - 1 = {C - 1}; with fewer dimensions no closed form is known "
                             "(see theory.max_separation_on_sphere and train_ufm)")
        W, means, objective, geometry = _cross_entropy(C, p, int(counts[0]), lam)
        b = np.zeros(C)
    elif not bias:
        W, means, b, objective, geometry = _mse_no_bias(counts, p, lam)
    else:
        if not balanced:
            raise ValueError(f"per_class={counts.tolist()}: the squared-error optimum with a bias is given here only "
                             "for balanced classes; use bias=False (closed form for any counts) or train_ufm")
        W, means, b, objective, geometry = _mse_bias(C, p, lam)
    return UFMOptimum(W=W, b=b, class_means=means, labels=labels, objective=float(objective), geometry=geometry)
