r"""The two propositions behind neural collapse, as small exact tools.

* **Proposition 1** (Webb & Lowe 1990): on fixed features, the classifier that minimises the
  one-hot mean squared error is ``W = (1/C) M^T Sigma_T^+`` (paper's column convention), i.e. a
  linear discriminant. :func:`webb_lowe_classifier` computes it. Under NC1 + NC2 it becomes
  proportional to the centred class means (self-duality, NC3).
* **Proposition 2** (Soudry, Hoffer, Nacson, Gunasekar & Srebro 2018): gradient descent on the
  logistic loss of linearly separable data diverges in norm (``||w_t|| ~ log t``) and converges
  in *direction* to the hard-margin SVM, at the slow rate ``O(1 / log t)``.
  :func:`gradient_descent_logistic`, :func:`max_margin_direction`, :func:`margin` and
  :func:`angle_between` let a reader watch it happen.
* :func:`max_separation_on_sphere` spreads ``C`` points on the unit sphere as far apart as
  possible; for ``dim >= C - 1`` it lands on a simplex ETF, the configuration of NC2.
* **The unconstrained features model** (Mixon, Parshall & Pi 2020; Fang, He, Long & Su 2021; Zhu
  et al. 2021): the features are free variables. :func:`train_ufm` runs gradient descent on it and
  returns a :class:`UFMHistory` that ``ncedu.viz`` and ``ncedu.widgets`` draw like a network run;
  :func:`ufm_optimum` gives its global minimiser in closed form where one is known (balanced
  cross-entropy: a simplex ETF of the scale derived from Zhu et al.'s Theorem 3.1; squared error);
  :func:`ufm_hessian` its curvature at any configuration (strict saddles).
* **Class imbalance** (Fang, He, Long & Su 2021; Thrampoulidis, Kini, Vakilian & Behnia 2022; Yang et al.
  2022): :func:`seli_geometry` (the SELI geometry that replaces the simplex ETF for class counts
  ``n_c``) and :func:`fixed_etf_feature_scale` (the optimal features under a fixed simplex-ETF
  classifier), in :mod:`ncedu.theory.imbalance`.
* **The squared loss and its central path** (Han, Papyan & Donoho 2022): :func:`central_path_classifier`
  (the optimal classifier of fixed features with weight decay), :func:`mse_decomposition` (the loss split
  into :math:`L_{NC1} + L_{NC2/3} + L_{LS}^\perp`), :func:`snr_singular_values` (the signal-to-noise
  ratio :math:`M\Sigma_W^{-1/2}`), :func:`central_path_along_training`, and gradient flow on the central
  path (:func:`central_path_flow`, :func:`central_path_clock`).

The tools live in small modules (:mod:`ncedu.theory.webb_lowe`, :mod:`ncedu.theory.margins`,
:mod:`ncedu.theory.sphere`, :mod:`ncedu.theory.ufm`, :mod:`ncedu.theory.ufm_optima`,
:mod:`ncedu.theory.ufm_landscape`,
:mod:`ncedu.theory.central_path`, :mod:`ncedu.theory.snr_flow`, and
:mod:`ncedu.theory.along_training`, the propositions measured on a recorded run) and are all
importable from here. Conventions are those of
:mod:`ncedu.metrics`: features ``h_i`` are the rows of an (N, p)
matrix, ``mu_G`` is the sample mean, ``M`` is the (C, p) matrix with rows ``mu_c - mu_G`` and
``W`` has one row per class (as ``torch.nn.Linear.weight``). Everything here is float64 numpy.

References
----------
A. R. Webb, D. Lowe, "The optimised internal representation of multilayer classifier networks
performs nonlinear discriminant analysis", Neural Networks 3(4):367–375, 1990.

D. Soudry, E. Hoffer, M. S. Nacson, S. Gunasekar, N. Srebro, "The implicit bias of gradient
descent on separable data", JMLR 19(70):1–57, 2018.

V. Papyan, X. Y. Han, D. L. Donoho, "Prevalence of neural collapse during the terminal phase
of deep learning training", PNAS 117(40):24652–24663, 2020 (Propositions 1 and 2).
"""

from __future__ import annotations

from .along_training import (
    PairwiseMaxMargin,
    pair_classifier,
    pair_features,
    pairwise_max_margin,
    webb_lowe_along_training,
)
from .margins import (
    LogisticPath,
    angle_between,
    gradient_descent_cross_entropy,
    gradient_descent_logistic,
    margin,
    max_margin_direction,
    max_margin_multiclass,
    multiclass_margin,
)
from .central_path import (
    MSEDecomposition,
    central_path_along_training,
    central_path_classifier,
    mse_decomposition,
    snr_singular_values,
)
from .snr_flow import CentralPathFlow, central_path_clock, central_path_flow
from .sphere import max_separation_on_sphere, push_apart
from .ufm import UFMHistory, train_ufm, ufm_gradients, ufm_labels, ufm_objective
from .ufm_landscape import ufm_hessian
from .ufm_optima import UFMOptimum, ufm_optimum
from .imbalance import SELIGeometry, fixed_etf_feature_scale, seli_geometry
from .webb_lowe import webb_lowe_classifier

__all__ = [
    "webb_lowe_classifier",
    "LogisticPath",
    "gradient_descent_logistic",
    "max_margin_direction",
    "margin",
    "gradient_descent_cross_entropy",
    "max_margin_multiclass",
    "multiclass_margin",
    "angle_between",
    "max_separation_on_sphere",
    "push_apart",
    "train_ufm",
    "UFMHistory",
    "ufm_optimum",
    "UFMOptimum",
    "ufm_objective",
    "ufm_gradients",
    "ufm_hessian",
    "ufm_labels",
    "seli_geometry",
    "SELIGeometry",
    "fixed_etf_feature_scale",
    "webb_lowe_along_training",
    "pairwise_max_margin",
    "PairwiseMaxMargin",
    "pair_features",
    "pair_classifier",
    "central_path_classifier",
    "mse_decomposition",
    "MSEDecomposition",
    "snr_singular_values",
    "central_path_along_training",
    "central_path_flow",
    "CentralPathFlow",
    "central_path_clock",
]
