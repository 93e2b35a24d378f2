r"""NC1 taken apart, and NC1 as other code (or a slip) computes it.

Notation of :mod:`ncedu.metrics`: features ``h_i`` (N, p), labels in ``0..C-1``, class means
``mu_c``, ``Sigma_W`` centred at the class means, ``Sigma_B = (1/C) M^T M`` with ``M`` the centred
means, and ``Sigma_B = V Lambda V^T`` on its ``K <= C - 1`` positive eigenvalues (eigenvalues below
``1e-10`` times the largest count as zero, as in :func:`ncedu.measure`).

* :func:`direction_ratios`: NC1 direction by direction,
  :math:`\mathrm{NC1} = \frac1C\sum_k \rho_k` with :math:`\rho_k = v_k^\top\Sigma_W v_k/\lambda_k`, the
  within-class variance along the between-class direction ``v_k`` in units of the between-class
  variance along it (chapter 3);
* :func:`within_class_split`: the within-class variance inside the between-class subspace, which
  NC1 sees, and outside it, which it ignores;
* :func:`whitened_within_eigenvalues`: the eigenvalues ``omega_k`` of the whitened within-class
  covariance :math:`\Lambda^{-1/2}V^\top\Sigma_W V\Lambda^{-1/2}`, whose sum is ``C NC1`` and whose
  reciprocals add up to Fisher's criterion on the between-class subspace;
* :func:`nc1_variant`: NC1 under the conventions of other public code (``mu_G`` as the mean of the
  class means, no division by ``C``) and under the slip that centres ``Sigma_W`` at ``mu_G``
  (chapter 1).

References
----------
V. Papyan, X. Y. Han, D. L. Donoho, "Prevalence of neural collapse during the terminal phase of
deep learning training", PNAS 117(40):24652–24663, 2020 (NC1, Fig. 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import torch

from ._validation import ArrayLike, check_bool, check_features, check_labels
from .metrics import between_class_covariance, class_means, measure

__all__ = ["DirectionRatios", "direction_ratios", "within_class_split", "whitened_within_eigenvalues",
           "nc1_variant"]

_RELATIVE_TOL = 1e-10


def _prepared(features: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, int]:
    H = check_features(features).to("cpu", torch.float64).numpy()
    y, C = check_labels(labels, H.shape[0])
    return H, y.cpu().numpy(), C


def _between_class_basis(H: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positive eigenvalues (largest first) of Sigma_B and their eigenvectors (columns)."""
    lam, V = np.linalg.eigh(between_class_covariance(H, y))
    keep = lam > _RELATIVE_TOL * lam.max() if lam.max() > 0 else np.zeros_like(lam, dtype=bool)
    return lam[keep][::-1], V[:, keep][:, ::-1]


@dataclass(frozen=True, eq=False)
class DirectionRatios:
    """NC1 direction by direction (:func:`direction_ratios`).

    Attributes
    ----------
    ratios : numpy.ndarray of shape (K,)
        ``rho_k = v_k^T Sigma_W v_k / lambda_k``, largest ``lambda_k`` first.
    eigenvalues : numpy.ndarray of shape (K,)
        ``lambda_k``, the positive eigenvalues of ``Sigma_B``, largest first.
    nc1 : float
        NC1 of the same features by :func:`ncedu.measure`; equals ``ratios.sum() / C``.

    Examples
    --------
    >>> H = np.array([[-1.0, 0.1], [-1.0, -0.1], [1.0, 0.1], [1.0, -0.1]])
    >>> d = direction_ratios(H, [0, 0, 1, 1])
    >>> d.ratios.tolist(), d.eigenvalues.tolist(), d.nc1
    ([0.0], [1.0], 0.0)
    """

    ratios: np.ndarray
    eigenvalues: np.ndarray
    nc1: float


def direction_ratios(features: ArrayLike, labels: ArrayLike) -> DirectionRatios:
    r"""The within-class variance along each between-class direction, in units of the between-class variance.

    .. math::

        \rho_k = \frac{v_k^\top \Sigma_W v_k}{\lambda_k}
               = \frac{\frac1N\sum_i \bigl(v_k^\top(h_i - \mu_{y_i})\bigr)^2}{\lambda_k},
        \qquad \mathrm{NC1} = \frac1C \operatorname{Tr}(\Sigma_W\Sigma_B^\dagger) = \frac1C\sum_k \rho_k ,

    since :math:`\Sigma_B^\dagger = \sum_k \lambda_k^{-1} v_k v_k^\top`. A ratio above one is a direction
    along which the classes overlap more than they are apart.

    Parameters
    ----------
    features : array of shape (N, p)
    labels : array of shape (N,)
        Class indices ``0..C-1``, every class present.

    Returns
    -------
    DirectionRatios

    Examples
    --------
    >>> H = np.array([[-1.0, 0.5], [-1.0, -0.5], [1.0, 0.5], [1.0, -0.5]])
    >>> d = direction_ratios(H, [0, 0, 1, 1])
    >>> d.ratios.tolist(), d.eigenvalues.tolist()     # no spread along the means' direction
    ([0.0], [1.0])
    """
    H, y, _ = _prepared(features, labels)
    m = measure(H, y)
    lam, V = _between_class_basis(H, y)
    R = H - m.class_means[y]                                 # within-class deviations r_i
    return DirectionRatios(ratios=((R @ V) ** 2).mean(axis=0) / lam, eigenvalues=lam, nc1=m.nc1)


def within_class_split(features: ArrayLike, labels: ArrayLike) -> tuple[float, float]:
    r"""The within-class variance inside the between-class subspace and outside it.

    .. math::

        \operatorname{Tr}\Sigma_W = \underbrace{\operatorname{Tr}(P\Sigma_W)}_{\text{inside}}
        + \underbrace{\operatorname{Tr}((I - P)\Sigma_W)}_{\text{outside}}, \qquad P = VV^\top ,

    the projection onto the span of the centred class means. NC1 depends only on the part inside
    (it is blind to the rest); the trace ratio and the CDNV count both.

    Parameters
    ----------
    features : array of shape (N, p)
    labels : array of shape (N,)

    Returns
    -------
    (float, float)
        ``Tr(P Sigma_W)`` and ``Tr((I - P) Sigma_W)``.

    Examples
    --------
    >>> H = np.array([[-1.0, 0.5], [-1.0, -0.5], [1.0, 0.5], [1.0, -0.5]])
    >>> within_class_split(H, [0, 0, 1, 1])
    (0.0, 0.25)
    """
    H, y, _ = _prepared(features, labels)
    _, V = _between_class_basis(H, y)
    R = H - measure(H, y).class_means[y]
    inside = float(((R @ V) ** 2).sum() / len(R))
    return inside, float((R ** 2).sum() / len(R)) - inside


def whitened_within_eigenvalues(features: ArrayLike, labels: ArrayLike) -> np.ndarray:
    r"""The eigenvalues of the whitened within-class covariance on the between-class subspace.

    .. math::

        \omega_1 \le \dots \le \omega_K \text{ of } \Lambda^{-1/2} V^\top \Sigma_W V \Lambda^{-1/2}, \qquad
        \sum_k \omega_k = C\,\mathrm{NC1}, \qquad \sum_k \omega_k^{-1} = J_B ,

    where :math:`J_B = \operatorname{Tr}\bigl((V^\top\Sigma_W V)^{-1} V^\top\Sigma_B V\bigr)` is Fisher's criterion on
    the between-class subspace (defined when every ``omega_k > 0``; book chapter 3).

    Parameters
    ----------
    features : array of shape (N, p)
    labels : array of shape (N,)

    Returns
    -------
    numpy.ndarray of shape (K,), ascending

    Examples
    --------
    >>> H = np.array([[-1.0, 0.5], [-1.0, -0.5], [1.0, 0.5], [1.0, -0.5]])
    >>> whitened_within_eigenvalues(H, [0, 0, 1, 1]).tolist()
    [0.0]
    """
    H, y, _ = _prepared(features, labels)
    lam, V = _between_class_basis(H, y)
    R = H - class_means(H, y)[y]
    U = V / np.sqrt(lam)                                     # V Lambda^(-1/2)
    return np.linalg.eigvalsh(U.T @ (R.T @ R / len(R)) @ U)


def nc1_variant(features: ArrayLike, labels: ArrayLike, *, global_mean: Union[str, ArrayLike] = "sample",
                within_centre: str = "class", divide_by_classes: bool = True) -> float:
    r"""NC1 under other conventions: ``Tr(S Sigma_B^+)``, optionally divided by ``C``.

    .. math::

        \mathrm{NC1}_{\text{variant}} = \frac{1}{C^{[\text{divide}]}}
        \operatorname{Tr}\Bigl(\tfrac1N\sum_i r_i r_i^\top\; \bigl(\tfrac1C\textstyle\sum_c (\mu_c - g)(\mu_c - g)^\top\bigr)^\dagger\Bigr),

    with :math:`r_i = h_i - \mu_{y_i}` (``within_centre="class"``, the paper) or
    :math:`r_i = h_i - g` (``"global"``, the slip that makes the first factor :math:`\Sigma_T`), and
    the centre ``g`` the sample mean (``global_mean="sample"``, the paper), the mean of the class
    means (``"class_means"``, the authors' notebook; the same for balanced classes) or a given
    vector. The pseudo-inverse drops eigenvalues below ``1e-10`` times the largest. The default
    settings give the paper's NC1 (as :func:`ncedu.measure`).

    Parameters
    ----------
    features : array of shape (N, p)
    labels : array of shape (N,)
    global_mean : {"sample", "class_means"} or array of shape (p,)
    within_centre : {"class", "global"}
    divide_by_classes : bool, default True
        False: without the ``1/C`` (the authors' notebook).

    Returns
    -------
    float

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> H, y = rng.standard_normal((60, 5)), np.arange(60) % 3
    >>> bool(np.isclose(nc1_variant(H, y), measure(H, y).nc1))
    True
    >>> bool(np.isclose(nc1_variant(H, y, divide_by_classes=False), 3 * measure(H, y).nc1))
    True
    """
    H, y, C = _prepared(features, labels)
    mu = np.stack([H[y == c].mean(axis=0) for c in range(C)])
    if isinstance(global_mean, str):
        if global_mean not in ("sample", "class_means"):
            raise ValueError(f"global_mean must be 'sample', 'class_means' or a vector, got {global_mean!r}")
        g = H.mean(axis=0) if global_mean == "sample" else mu.mean(axis=0)
    else:
        g = np.asarray(global_mean, dtype=np.float64)
        if g.shape != (H.shape[1],):
            raise ValueError(f"global_mean must have shape ({H.shape[1]},), got {g.shape}")
    if within_centre not in ("class", "global"):
        raise ValueError(f"within_centre must be 'class' or 'global', got {within_centre!r}")
    divide_by_classes = check_bool(divide_by_classes, "divide_by_classes")
    R = H - (g if within_centre == "global" else mu[y])
    M = mu - g
    value = float(np.trace((R.T @ R / len(H)) @ np.linalg.pinv(M.T @ M / C, rcond=_RELATIVE_TOL, hermitian=True)))
    return value / C if divide_by_classes else value
