r"""Class imbalance in the unconstrained features model: the SELI geometry and the fixed-ETF feature scale.

With ``n_c`` samples of class ``c`` (``N = sum_c n_c``) the simplex ETF of balanced neural collapse is
no longer the geometry of the unconstrained features model (UFM). Two exact tools:

* :func:`seli_geometry`: the *simplex-encoded-labels interpolation* (SELI) of Thrampoulidis, Kini,
  Vakilian & Behnia (NeurIPS 2022). The simplex-encoded label (SEL) matrix is
  :math:`\hat Z = Y - \tfrac1C \mathbf 1_C \mathbf 1_N^\top \in \mathbb R^{C\times N}`, ``Y`` the
  one-hot labels, one column per sample; with its thin SVD :math:`\hat Z = V\Lambda U^\top`, a
  classifier ``W`` (C, p) and features ``H`` (N, p) are in the SELI geometry when
  :math:`WH^\top = \hat Z`, :math:`WW^\top = V\Lambda V^\top` and :math:`HH^\top = U\Lambda U^\top`.
  These are the Gram matrices of the minimisers of the bias-free *unconstrained-features SVM*

  .. math::

      \min_{W, H}\ \tfrac12\|W\|_F^2 + \tfrac12\|H\|_F^2 \quad\text{s.t.}\quad
      (w_{y_i} - w_c)^\top h_i \ge 1 \quad (c \ne y_i),

  the limit in direction of the cross-entropy UFM with vanishing weight decay, which they study
  (``tests/test_theory_imbalance.py`` checks the Grams against a numerical solution of this
  problem). Features of a class coincide, so everything reduces to ``C x C`` matrices:
  with :math:`A = (I - \tfrac1C\mathbf 1\mathbf 1^\top)\operatorname{diag}(n)^{1/2}`,

  .. math::

      WW^\top = (AA^\top)^{1/2}, \qquad
      [h_c^\top h_{c'}]_{c,c'} = \operatorname{diag}(n)^{-1/2} (A^\top A)^{1/2} \operatorname{diag}(n)^{-1/2},

  because :math:`\hat Z = A Q` with :math:`Q = \operatorname{diag}(n)^{-1/2} E` (``E`` the (C, N)
  class indicator) a matrix with orthonormal rows. For balanced classes both are multiples of the
  simplex-ETF Gram matrix.
* :func:`fixed_etf_feature_scale`: with the classifier fixed to a simplex ETF of unit rows ``u_c``
  and no bias, the UFM objective :math:`\frac1N\sum_i \big[\ell(W h_i, y_i) + \tfrac{\lambda_H}{2}\|h_i\|^2\big]`
  decouples over the samples, and every sample's minimiser is :math:`h_i = s^\star u_{y_i}`, whatever
  the class counts (the fixed-ETF classifier of Yang et al., NeurIPS 2022). ``s*`` is the root of a
  one-dimensional equation, computed here.

Everything is float64 numpy.

References
----------
C. Thrampoulidis, G. R. Kini, V. Vakilian, T. Behnia, "Imbalance trouble: Revisiting neural-collapse
geometry", NeurIPS 2022.

Y. Yang, S. Chen, X. Li, L. Xie, Z. Lin, D. Tao, "Inducing neural collapse in imbalanced learning: Do we
really need a learnable classifier at the end of deep neural network?", NeurIPS 2022.

C. Fang, H. He, Q. Long, W. J. Su, "Exploring deep neural networks via layer-peeled model: Minority
collapse in imbalanced training", PNAS 118(43), 2021.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import check_int, check_real

__all__ = ["SELIGeometry", "seli_geometry", "fixed_etf_feature_scale"]


def _counts(per_class: Any) -> np.ndarray:
    """``n_c`` for every class: a 1-D sequence of at least two positive integers."""
    if isinstance(per_class, (str, bytes, numbers.Number)) or not hasattr(per_class, "__len__"):
        raise TypeError(f"per_class must be a sequence of class counts (one positive integer per class), "
                        f"got {type(per_class).__name__} {per_class!r}")
    if isinstance(per_class, torch.Tensor):
        per_class = per_class.detach().cpu().numpy()
    if np.ndim(per_class) != 1:
        raise ValueError(f"per_class must be a 1-D sequence of counts, got shape {np.shape(per_class)}")
    values = list(np.asarray(per_class, dtype=object))
    if len(values) < 2:
        raise ValueError(f"per_class must give at least two classes, got {len(values)}")
    return np.array([check_int(v, f"per_class[{c}]", minimum=1) for c, v in enumerate(values)], dtype=np.int64)


@dataclass(frozen=True)
class SELIGeometry:
    """The SELI geometry of given class counts (:func:`seli_geometry`), as ``C x C`` matrices.

    Attributes
    ----------
    class_counts : numpy.ndarray of shape (C,), int64
        ``n_c``.
    classifier_gram : numpy.ndarray of shape (C, C)
        :math:`WW^\\top = V\\Lambda V^\\top = (\\hat Z\\hat Z^\\top)^{1/2}`, the inner products of the classifier rows.
    feature_gram : numpy.ndarray of shape (C, C)
        :math:`h_c^\\top h_{c'}`, the inner products of the (collapsed) features of classes ``c`` and ``c'``.
    logits : numpy.ndarray of shape (C, C)
        Column ``c`` is :math:`W h_c = e_c - \\tfrac1C\\mathbf 1`, the simplex-encoded label of class ``c``.

    Examples
    --------
    >>> g = seli_geometry([3, 3, 3])
    >>> bool(np.allclose(g.classifier_gram, np.sqrt(3) * (np.eye(3) - 1 / 3)))
    True
    """

    class_counts: np.ndarray
    classifier_gram: np.ndarray
    feature_gram: np.ndarray
    logits: np.ndarray

    def cosines(self, which: str = "classifier") -> np.ndarray:
        """The (C, C) matrix of cosines between the classifier rows (or the class features).

        Parameters
        ----------
        which : {"classifier", "features"}
            Which Gram matrix to normalise.

        Returns
        -------
        numpy.ndarray of shape (C, C)
            Ones on the diagonal.

        Examples
        --------
        >>> bool(np.allclose(seli_geometry([2, 2, 2, 2]).cosines(), np.where(np.eye(4) == 1, 1, -1 / 3)))
        True
        """
        if which not in ("classifier", "features"):
            raise ValueError(f"which must be 'classifier' or 'features', got {which!r}")
        G = self.classifier_gram if which == "classifier" else self.feature_gram
        d = np.sqrt(np.diag(G))
        return G / np.outer(d, d)


def seli_geometry(per_class: Any) -> SELIGeometry:
    r"""The SELI geometry of Thrampoulidis et al. (2022) for class counts ``n_0, ..., n_{C-1}``.

    With :math:`\hat Z = Y - \tfrac1C\mathbf 1\mathbf 1^\top` (one column :math:`e_{y_i} - \tfrac1C\mathbf 1`
    per sample) and its thin SVD :math:`\hat Z = V\Lambda U^\top`:

    .. math::

        WW^\top = V\Lambda V^\top = (AA^\top)^{1/2}, \qquad
        h_c^\top h_{c'} = \big[D^{-1/2}(A^\top A)^{1/2}D^{-1/2}\big]_{cc'}, \qquad W h_c = e_c - \tfrac1C\mathbf 1,

    with :math:`D = \operatorname{diag}(n)` and :math:`A = (I - \tfrac1C\mathbf 1\mathbf 1^\top)D^{1/2}`,
    computed from ``C x C`` matrices (never the ``C x N`` SEL matrix). These are the Gram matrices of the
    minimisers of the bias-free unconstrained-features SVM
    :math:`\min \tfrac12\|W\|_F^2 + \tfrac12\|H\|_F^2` s.t. :math:`(w_{y_i} - w_c)^\top h_i \ge 1`, where
    every margin is exactly 1 (realisable for feature dimensions ``p >= C - 1``, the rank of
    :math:`\hat Z`). For balanced classes (``n_c = n``) both Grams are multiples of the simplex ETF's,
    :math:`\sqrt n\,(I - \tfrac1C\mathbf 1\mathbf 1^\top)` and :math:`(I - \tfrac1C\mathbf 1\mathbf 1^\top)/\sqrt n`.

    Parameters
    ----------
    per_class : sequence of int
        ``n_c >= 1`` for each of the ``C >= 2`` classes.

    Returns
    -------
    SELIGeometry
        The counts, the classifier and feature Gram matrices and the logits.

    Raises
    ------
    TypeError
        If ``per_class`` is not a sequence of integers.
    ValueError
        If it is not 1-D, has fewer than two entries, or a count below 1.

    References
    ----------
    C. Thrampoulidis, G. R. Kini, V. Vakilian, T. Behnia, "Imbalance trouble: Revisiting
    neural-collapse geometry", NeurIPS 2022 (the SEL matrix, the SELI geometry, the UF-SVM).

    Examples
    --------
    >>> g = seli_geometry([100, 1])        # two classes: the classifier rows are always opposite
    >>> round(float(g.cosines()[0, 1]), 12)
    -1.0
    >>> g = seli_geometry([10] * 2 + [1] * 2)
    >>> bool(g.cosines()[2, 3] > g.cosines()[0, 1])   # the minority rows are closer to each other
    True
    """
    n = _counts(per_class)
    C = len(n)
    centring = np.eye(C) - 1.0 / C
    root = np.sqrt(n.astype(np.float64))
    A = centring * root[None, :]
    U, s, Vt = np.linalg.svd(A)       # (A A^T)^{1/2} = U S U^T and (A^T A)^{1/2} = V S V^T, no square roots taken
    classifier_gram = (U * s) @ U.T
    feature_gram = ((Vt.T * s) @ Vt) / np.outer(root, root)
    return SELIGeometry(class_counts=n, classifier_gram=classifier_gram, feature_gram=feature_gram,
                        logits=centring.copy())


def fixed_etf_feature_scale(num_classes: int, lambda_H: float, row_norm: float = 1.0) -> float:
    r"""The norm ``s*`` of every optimal feature when the classifier is a fixed simplex ETF (no bias).

    With classifier rows :math:`w_c = r\,u_c`, :math:`(u_c)` a simplex ETF of unit vectors, the
    feature of a sample of class ``y`` minimises :math:`\ell(Wh, y) + \tfrac{\lambda_H}{2}\|h\|^2` (the
    cross-entropy UFM with a fixed classifier decouples over the samples), and the minimiser is
    :math:`h = s^\star u_y`, with :math:`s^\star > 0` the minimiser of

    .. math::

        f(s) = \log\!\big(1 + (C-1)\,e^{-a s}\big) + \tfrac{\lambda_H}{2}s^2, \qquad a = \frac{rC}{C-1},

    the unique root of :math:`f'(s) = \lambda_H s - \dfrac{a(C-1)e^{-as}}{1 + (C-1)e^{-as}}` (``f`` is
    strictly convex), found here by bisection on :math:`[0, a/\lambda_H]`. It does not depend on the
    class counts.

    Parameters
    ----------
    num_classes : int
        ``C >= 2``.
    lambda_H : float
        The per-sample feature weight decay, ``> 0`` (with ``0`` the loss has no minimiser).
    row_norm : float, default 1.0
        ``r > 0``, the norm of every classifier row.

    Returns
    -------
    float
        ``s*``.

    References
    ----------
    Y. Yang, S. Chen, X. Li, L. Xie, Z. Lin, D. Tao, NeurIPS 2022 (the fixed ETF classifier; their
    layer-peeled analysis has a norm constraint instead of the weight decay).

    Examples
    --------
    >>> s = fixed_etf_feature_scale(10, 0.05)
    >>> a = 10 / 9
    >>> bool(abs(0.05 * s - a * 9 * np.exp(-a * s) / (1 + 9 * np.exp(-a * s))) < 1e-12)
    True
    """
    C = check_int(num_classes, "num_classes", minimum=2)
    lam = check_real(lambda_H, "lambda_H", minimum=0.0, include_minimum=False)
    r = check_real(row_norm, "row_norm", minimum=0.0, include_minimum=False)
    a = r * C / (C - 1)

    def slope(s: float) -> float:
        e = (C - 1) * math.exp(-a * s)
        return lam * s - a * e / (1.0 + e)

    low, high = 0.0, a / lam
    for _ in range(200):
        mid = 0.5 * (low + high)
        if slope(mid) > 0:
            high = mid
        else:
            low = mid
        if high - low <= 1e-15 * max(1.0, high):
            break
    return 0.5 * (low + high)
