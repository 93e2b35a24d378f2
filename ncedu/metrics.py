r"""Neural-collapse metrics NC1–NC4, exactly as defined by Papyan, Han & Donoho (2020).

Notation (features ``h_i`` in ``R^p`` with labels ``y_i`` in ``{0..C-1}``, ``N`` samples;
classifier ``W`` in ``R^{C x p}`` with one row ``w_c`` per class, bias ``b`` in ``R^C``):

* global mean ``mu_G = (1/N) sum_i h_i`` (the sample mean), class means ``mu_c``;
  ``M`` the (C, p) matrix whose rows are the centred means ``mu_c - mu_G``;
* ``Sigma_W = (1/N) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T`` (within-class, centred at the *class* mean),
  ``Sigma_B = (1/C) sum_c (mu_c - mu_G)(mu_c - mu_G)^T`` (between-class),
  ``Sigma_T = (1/N) sum_i (h_i - mu_G)(h_i - mu_G)^T = Sigma_W + Sigma_B`` for balanced classes.

The metrics (each ``-> 0`` under neural collapse):

* **NC1** ``Tr(Sigma_W Sigma_B^+) / C`` with ``Sigma_B^+`` the Moore–Penrose pseudo-inverse
  on the (at most) (C-1)-dimensional between-class subspace (paper, Fig. 6).
* **NC2** equinorm ``std_c ||mu_c - mu_G|| / avg_c ||mu_c - mu_G||`` (Fig. 2, also for ``w_c``);
  equiangularity ``std_{c < c'} cos(mu_c - mu_G, mu_{c'} - mu_G)`` (Fig. 3, also for ``w_c``);
  max-angle ``avg_{c < c'} |cos(mu_c - mu_G, mu_{c'} - mu_G) + 1/(C-1)|`` (Fig. 4).
  Both run over the C(C-1)/2 unordered pairs ``c < c'``, each counted once (for max-angle an
  average over the ordered pairs ``c != c'`` is the same number; for the std it is not).
  Standard deviations are unbiased (ddof = 1), for equinorm and equiangularity alike. For
  equinorm that is also what the authors' notebook computes (``torch.std``, unbiased by
  default); that notebook has no equiangularity curve (its NC2 angle plot is max-angle), so for
  equiangularity ddof = 1 over the pairs ``c < c'`` is this package's convention.
* **NC3** ``|| W / ||W||_F - M / ||M||_F ||_F^2`` (squared, as plotted in Fig. 5).
* **NC4** the fraction of samples whose network decision ``argmax_c (w_c . h + b_c)`` differs
  from the nearest-class-centre decision ``argmin_c ||h - mu_c||`` (Fig. 7).

Two variants are offered under their own names, not in place of NC1:
``nc1_trace_ratio = Tr(Sigma_W) / Tr(Sigma_B)`` and the class-distance-normalised variance
``cdnv = avg_{c<c'} (sigma_c^2 + sigma_{c'}^2) / (2 ||mu_c - mu_{c'}||^2)`` with
``sigma_c^2 = (1/n_c) sum_{i in c} ||h_i - mu_c||^2`` (Galanti, György & Hutter, ICLR 2022).

References
----------
V. Papyan, X. Y. Han, D. L. Donoho, "Prevalence of neural collapse during the terminal phase
of deep learning training", PNAS 117(40):24652–24663, 2020, doi:10.1073/pnas.2015509117.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, fields
from typing import Any, Optional, Sequence

import numpy as np
import torch

from ._passes import ClassSums, ResidualProjections, chunk_rows, first_rows
from ._statistics import (  # the statistics themselves, for teaching and checking
    between_class_covariance,
    class_means,
    global_mean,
    total_covariance,
    within_class_covariance,
)
from ._validation import (
    ArrayLike,
    check_classifier,
    check_features,
    check_int,
    check_labels,
    compute_dtype,
    raise_if_not_finite,
)

__all__ = [
    "NCMetrics",
    "measure",
    "class_means",
    "global_mean",
    "within_class_covariance",
    "between_class_covariance",
    "total_covariance",
    "self_duality",
    "nearest_centre",
    "minority_collapse",
    "METRIC_NAMES",
]

#: Scalar metrics of an :class:`NCMetrics`, in the order they are reported.
METRIC_NAMES = (
    "nc1",
    "nc2_equinorm_means",
    "nc2_equinorm_classifiers",
    "nc2_equiangular_means",
    "nc2_equiangular_classifiers",
    "nc2_maxangle_means",
    "nc2_maxangle_classifiers",
    "nc3",
    "nc4",
    "nc1_trace_ratio",
    "cdnv",
)

def _chunks(n: int, size: int):
    """Slices covering ``range(n)`` in consecutive chunks of ``size`` rows."""
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


@dataclass(frozen=True, eq=False)
class NCMetrics:
    r"""The neural-collapse metrics of one set of features (and optionally a classifier).

    Returned by :func:`measure`, :meth:`NCAccumulator.compute <ncedu.NCAccumulator.compute>` and
    :func:`ncedu.measure_model`; not meant to be built by hand. Classifier fields
    (``*_classifiers``, ``nc3``, ``nc4``) are ``None`` when no ``W`` was given; ``nc4`` is also
    ``None`` from a streaming accumulator that was not given a second pass. A metric that is
    undefined for the data (coinciding class means, a zero classifier row) is NaN, with a warning.
    Arrays are float64 numpy arrays on the CPU. Every formula is in the module docstring of
    :mod:`ncedu.metrics`; figure numbers refer to Papyan, Han & Donoho (2020).

    Attributes
    ----------
    nc1 : float
        NC1, within-class variability: ``Tr(Sigma_W Sigma_B^+) / C`` (Fig. 6).
    nc2_equinorm_means : float
        NC2 equinorm of the centred means: ``std_c ||mu_c - mu_G|| / avg_c ||mu_c - mu_G||``
        (unbiased std; Fig. 2).
    nc2_equinorm_classifiers : float or None
        The same for the classifier rows ``w_c`` (Fig. 2).
    nc2_equiangular_means : float
        NC2 equiangularity: the unbiased std over pairs ``c < c'`` of
        ``cos(mu_c - mu_G, mu_c' - mu_G)`` (Fig. 3; NaN for ``C = 2``, one pair).
    nc2_equiangular_classifiers : float or None
        The same for the classifier rows (Fig. 3).
    nc2_maxangle_means : float
        NC2 max-angle: ``avg_{c < c'} |cos(mu_c - mu_G, mu_c' - mu_G) + 1/(C-1)|`` (Fig. 4).
    nc2_maxangle_classifiers : float or None
        The same for the classifier rows (Fig. 4).
    nc3 : float or None
        NC3, self-duality: ``|| W/||W||_F - M/||M||_F ||_F^2`` (squared, Fig. 5); see :func:`self_duality`.
    nc4 : float or None
        NC4: the fraction of samples on which ``argmax_c (w_c . h + b_c)`` differs from the
        nearest class centre ``argmin_c ||h - mu_c||`` (Fig. 7); see :func:`nearest_centre`.
    nc1_trace_ratio : float
        ``Tr(Sigma_W) / Tr(Sigma_B)``, a common simpler variant of NC1 (not the paper's).
    cdnv : float
        The class-distance normalised variance ``avg_{c<c'} (sigma_c^2 + sigma_c'^2) / (2 ||mu_c - mu_c'||^2)``
        (Galanti, György & Hutter, ICLR 2022).
    class_means : numpy.ndarray of shape (C, p)
        ``mu_c``, in the features' units.
    global_mean : numpy.ndarray of shape (p,)
        ``mu_G``, the sample mean (``class_counts @ class_means / N``), not the mean of class means.
    class_counts : numpy.ndarray of shape (C,), int64
        ``n_c``, the samples of each class.

    Examples
    --------
    >>> from ncedu import measure, simplex_etf
    >>> means = 4 * simplex_etf(3, 4)
    >>> rng = np.random.default_rng(0)
    >>> y = np.arange(300) % 3
    >>> h = means[y] + 0.1 * rng.standard_normal((300, 4))
    >>> m = measure(h, y, W=means)
    >>> m.num_classes, m.class_counts.tolist(), m.centred_means.shape
    (3, [100, 100, 100], (3, 4))
    >>> m.nc1 < 1e-3, m.nc4
    (True, 0.0)
    >>> sorted(m.as_dict())[:3]
    ['cdnv', 'nc1', 'nc1_trace_ratio']
    """

    nc1: float
    nc2_equinorm_means: float
    nc2_equinorm_classifiers: Optional[float]
    nc2_equiangular_means: float
    nc2_equiangular_classifiers: Optional[float]
    nc2_maxangle_means: float
    nc2_maxangle_classifiers: Optional[float]
    nc3: Optional[float]
    nc4: Optional[float]
    nc1_trace_ratio: float
    cdnv: float
    class_means: np.ndarray
    global_mean: np.ndarray
    class_counts: np.ndarray

    @property
    def num_classes(self) -> int:
        """``C``, the number of classes (rows of :attr:`class_means`)."""
        return int(self.class_means.shape[0])

    @property
    def centred_means(self) -> np.ndarray:
        """``M``: the (C, p) matrix of centred class means ``mu_c - mu_G``."""
        return self.class_means - self.global_mean

    def as_dict(self, arrays: bool = False) -> dict[str, Any]:
        """The metrics as a dict, for logging (``None`` where a classifier metric was not measured).

        Parameters
        ----------
        arrays : bool, default False
            Also include ``class_means``, ``global_mean`` and ``class_counts``.

        Returns
        -------
        dict
            ``{name: value}`` for every name of :data:`~ncedu.metrics.METRIC_NAMES`, in that order, then the arrays.
        """
        out: dict[str, Any] = {name: getattr(self, name) for name in METRIC_NAMES}
        if arrays:
            out.update(class_means=self.class_means, global_mean=self.global_mean, class_counts=self.class_counts)
        return out

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                parts.append(f"{f.name}=<array {v.shape}>")
            elif v is None:
                parts.append(f"{f.name}=None")
            else:
                parts.append(f"{f.name}={v:.4g}")
        return "NCMetrics(" + ", ".join(parts) + ")"


# ----------------------------------------------------------------------------------------------
# Pieces shared by the in-memory and the streaming computations (all on small float64 arrays)
# ----------------------------------------------------------------------------------------------


def _std_over_mean(x: torch.Tensor) -> float:
    """Coefficient of variation with the unbiased std (ddof = 1)."""
    return float(x.std(correction=1) / x.mean())


def _angle_metrics(rows: torch.Tensor) -> tuple[float, float]:
    """Equiangularity (unbiased std of the cosines of the pairs c < c') and max-angle (mean |cos + 1/(C-1)|)."""
    C = rows.shape[0]
    U = rows / rows.norm(dim=1, keepdim=True)
    iu = torch.triu_indices(C, C, offset=1)
    cos = (U @ U.T)[iu[0], iu[1]]
    # with C = 2 there is one pair: a (ddof = 1) standard deviation of one value is undefined
    equiangular = float(cos.std(correction=1)) if cos.numel() > 1 else float("nan")
    maxangle = float((cos + 1.0 / (C - 1)).abs().mean())
    return equiangular, maxangle


def _norm_and_angle_metrics(rows: torch.Tensor, what: str) -> tuple[float, float, float]:
    """Equinorm, equiangularity and max-angle of a (C, p) set of vectors (NaN if any is zero)."""
    norms = rows.norm(dim=1)
    if bool((norms == 0).any()):
        warnings.warn(
            f"{what}: vector(s) {torch.nonzero(norms == 0).flatten().tolist()} are zero, so their angles are "
            "undefined; NC2 is reported as NaN",
            RuntimeWarning,
            stacklevel=3,
        )
        return float("nan"), float("nan"), float("nan")
    equinorm = _std_over_mean(norms)
    equiangular, maxangle = _angle_metrics(rows)
    return equinorm, equiangular, maxangle


def _self_duality(W: torch.Tensor, centred_means: torch.Tensor) -> float:
    """NC3 on checked float64 tensors: ``|| W/||W||_F - M/||M||_F ||_F^2``."""
    return float(((W / W.norm()) - (centred_means / centred_means.norm())).pow(2).sum())


def self_duality(W: ArrayLike, centred_means: ArrayLike) -> float:
    r"""NC3, the distance of the classifier from self-duality: :math:`\| W/\|W\|_F - M/\|M\|_F \|_F^2`.

    Papyan, Han & Donoho (2020), Fig. 5 (plotted squared, as here). ``W`` holds one classifier
    row ``w_c`` per class and ``M`` the centred class means ``mu_c - mu_G``, one row per class;
    NC3 is 0 exactly when ``W`` is a positive multiple of ``M``, 4 when a negative one, and
    ``2 - 2 cos(W, M)`` in general (the cosine of the flattened matrices).

    Parameters
    ----------
    W : array or tensor of shape (C, p)
        The last-layer weights (as ``torch.nn.Linear.weight``).
    centred_means : array or tensor of shape (C, p)
        ``M``, e.g. ``measure(H, y).centred_means`` or ``history.centred_means()[-1]``.

    Returns
    -------
    float
        NaN, with a warning, when ``W`` or ``M`` is zero (no direction to compare).

    Examples
    --------
    >>> M = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> round(self_duality(3 * M, M), 12), round(self_duality(-M, M), 12)
    (0.0, 4.0)
    """
    Mt = check_features(centred_means, "centred_means").to("cpu", torch.float64)
    C, p = Mt.shape
    Wt, _ = check_classifier(W, None, C, p)
    Wt = Wt.to("cpu", torch.float64)
    if float(Wt.norm()) == 0 or float(Mt.norm()) == 0:
        warnings.warn("W or the centred means are zero, so NC3 (a distance between directions) is undefined; "
                      "reported as NaN", RuntimeWarning, stacklevel=2)
        return float("nan")
    return _self_duality(Wt, Mt)


def minority_collapse(W: ArrayLike, minority: Sequence[int]) -> float:
    r"""How far the classifier rows of the minority classes have collapsed onto each other.

    The mean cosine :math:`\frac{2}{m(m-1)} \sum_{a<b \in \text{minority}} \cos(w_a, w_b)` over the
    ``m`` minority classes' rows of ``W``. Fang, He, Long & Su (2021, PNAS) call *minority collapse*
    the regime where, as the imbalance ratio grows, these rows become parallel (the mean cosine
    tends to 1, the angle between them to 0), so the network can no longer tell the minority
    classes apart; on a simplex ETF it is ``-1/(C-1)``.

    Parameters
    ----------
    W : array or tensor of shape (C, p)
        Classifier rows, one per class.
    minority : sequence of int
        The minority classes, at least two distinct indices in ``0..C-1``.

    Returns
    -------
    float
        NaN, with a warning, if a minority row is zero.

    Examples
    --------
    >>> from ncedu import simplex_etf
    >>> round(minority_collapse(simplex_etf(4, 3), [2, 3]), 12)
    -0.333333333333
    >>> minority_collapse(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 2.0]]), [1, 2])
    1.0
    """
    Wt = check_features(W, "W").to("cpu", torch.float64)
    C = Wt.shape[0]
    if isinstance(minority, (str, bytes)) or not hasattr(minority, "__iter__"):
        raise TypeError(f"minority must be a sequence of class indices, got {type(minority).__name__}")
    classes = sorted({check_int(c, "minority entries", minimum=0, maximum=C - 1) for c in minority})
    if len(classes) < 2:
        raise ValueError(f"minority must name at least two distinct classes, got {list(minority)!r}")
    rows = Wt[classes]
    norms = rows.norm(dim=1)
    if bool((norms == 0).any()):
        warnings.warn("a minority classifier row is zero, so its angles are undefined; reported as NaN",
                      RuntimeWarning, stacklevel=2)
        return float("nan")
    U = rows / norms.unsqueeze(1)
    iu = torch.triu_indices(len(classes), len(classes), offset=1)
    return float((U @ U.T)[iu[0], iu[1]].mean())


def nearest_centre(features: ArrayLike, class_means: ArrayLike) -> np.ndarray:
    r"""The nearest-class-centre decision of each feature: :math:`\arg\min_c \|h_i - \mu_c\|`.

    The rule NC4 compares the network with (Papyan, Han & Donoho 2020, Fig. 7). Distances are
    ranked through ``||mu_c - m||^2 - 2 (h - m) . (mu_c - m)``, the same order as ``||h - mu_c||^2``
    for any point ``m`` (here the mean of the centres, which keeps the terms small), in chunks, so
    no (N, C, p) array is formed. Ties go to the smallest class index.

    Parameters
    ----------
    features : array or tensor of shape (N, p)
        The points to classify, one per row.
    class_means : array or tensor of shape (C, p)
        The centres ``mu_c``, one per class.

    Returns
    -------
    numpy.ndarray of shape (N,), int64
        The index of the nearest centre of each row.

    Examples
    --------
    >>> nearest_centre(np.array([[0.1, 0.0], [2.0, 0.2]]), np.array([[0.0, 0.0], [2.0, 0.0]]))
    array([0, 1])
    """
    H = check_features(features)
    mu = check_features(class_means, "class_means").to(H.device, torch.float64)
    if mu.shape[1] != H.shape[1]:
        raise ValueError(f"features has {H.shape[1]} columns but class_means has {mu.shape[1]}; they must match")
    shift = mu.mean(0)
    Mc = mu - shift
    norms = Mc.pow(2).sum(1)
    out = []
    for rows in _chunks(H.shape[0], 4096):
        X = H[rows].to(torch.float64) - shift
        out.append(torch.argmin(norms - 2.0 * X @ Mc.T, dim=1))
    return torch.cat(out).cpu().numpy()


def _cdnv_from_variances(class_means: torch.Tensor, class_variances: torch.Tensor) -> float:
    """Average over class pairs ``c < c'`` of ``(sigma_c^2 + sigma_{c'}^2) / (2 ||mu_c - mu_{c'}||^2)``."""
    C = class_means.shape[0]
    total = 0.0
    for c in range(C - 1):  # one class against the later ones: O(C p) memory, not O(C^2 p)
        dist2 = (class_means[c + 1:] - class_means[c]).pow(2).sum(1)
        total += float(((class_variances[c] + class_variances[c + 1:]) / (2 * dist2)).sum())
    return total / (C * (C - 1) / 2)


def _assemble_metrics(
    *,
    class_means: torch.Tensor,
    counts: torch.Tensor,
    nc1_trace: float,
    within_ss: torch.Tensor,
    W: Optional[torch.Tensor],
    b: Optional[torch.Tensor],
    nc4: Optional[float],
    degenerate: bool = False,
) -> NCMetrics:
    """Build :class:`NCMetrics` from the class statistics (float64, CPU).

    ``nc1_trace`` is ``Tr(Sigma_W Sigma_B^+)`` (NaN if ``Sigma_B = 0``); ``within_ss[c]`` is
    ``sum_{i in c} ||h_i - mu_c||^2``. With ``degenerate`` (the class means coincide up to
    rounding) every quantity that divides by the between-class scale is NaN, never a number
    made of rounding noise.
    """
    C = class_means.shape[0]
    N = float(counts.sum())
    mu_G = (counts.to(class_means.dtype) @ class_means) / N
    M = class_means - mu_G
    if degenerate:  # what is left of M is rounding (already warned about): its angles and norms mean nothing
        M = torch.zeros_like(M)
        nc4 = float("nan") if nc4 is not None else None
        eq_m = ang_m = max_m = float("nan")
    else:
        eq_m, ang_m, max_m = _norm_and_angle_metrics(M, "centred class means")
    trace_B = float(M.pow(2).sum() / C)
    trace_W = float(within_ss.sum() / N)
    trace_ratio = trace_W / trace_B if trace_B > 0 else float("nan")
    cdnv = float("nan") if degenerate else _cdnv_from_variances(class_means, within_ss / counts.to(within_ss.dtype))
    eq_w = ang_w = max_w = nc3 = None
    if W is not None:
        Wd = W.to("cpu", torch.float64)
        eq_w, ang_w, max_w = _norm_and_angle_metrics(Wd, "classifier rows W")
        nc3 = _self_duality(Wd, M) if float(M.norm()) > 0 and float(Wd.norm()) > 0 else float("nan")
    return NCMetrics(
        nc1=nc1_trace / C,
        nc2_equinorm_means=eq_m,
        nc2_equinorm_classifiers=eq_w,
        nc2_equiangular_means=ang_m,
        nc2_equiangular_classifiers=ang_w,
        nc2_maxangle_means=max_m,
        nc2_maxangle_classifiers=max_w,
        nc3=nc3,
        nc4=nc4,
        nc1_trace_ratio=trace_ratio,
        cdnv=cdnv,
        class_means=class_means.numpy(),
        global_mean=mu_G.numpy(),
        class_counts=counts.numpy().astype(np.int64),
    )


# ----------------------------------------------------------------------------------------------
# The one-shot measurement
# ----------------------------------------------------------------------------------------------


def measure(features: ArrayLike, labels: ArrayLike, W: Optional[ArrayLike] = None, b: Optional[ArrayLike] = None, *,
            num_classes: Optional[int] = None) -> NCMetrics:
    r"""Measure neural collapse NC1–NC4 of last-layer features, as defined by Papyan, Han & Donoho (2020).

    .. math::

        \mathrm{NC1} &= \tfrac{1}{C}\operatorname{Tr}(\Sigma_W \Sigma_B^{\dagger}), \\
        \mathrm{NC3} &= \Big\| \tfrac{W}{\|W\|_F} - \tfrac{M}{\|M\|_F} \Big\|_F^2, \\
        \mathrm{NC4} &= \tfrac{1}{N}\#\{i : \arg\max_c (w_c^\top h_i + b_c) \neq \arg\min_c \|h_i - \mu_c\|\}

    and the NC2 statistics (equinorm, equiangularity, max-angle) of the centred means and of the
    rows of ``W``; see the module docstring for every definition.

    The computation never forms a (p, p) matrix: ``Sigma_B`` comes from the SVD of the (C, p)
    centred means, and ``Tr(Sigma_W Sigma_B^+) = (1/N) sum_i ||Lambda^{-1/2} V (h_i - mu_{y_i})||^2``
    needs one (N, p) x (p, C-1) product, shared with the products for NC4. Class sums are accumulated
    in float64; the large products run in float32 unless the features are float64.

    Parameters
    ----------
    features : array or tensor of shape (N, p)
        Penultimate-layer features ``h_i`` (numpy or torch, any device and floating dtype).
    labels : array or tensor of shape (N,)
        Integer class indices in ``0..C-1``; every class must occur.
    W : array or tensor of shape (C, p), optional
        Last-layer weights, one row per class (as ``torch.nn.Linear.weight``).
    b : array or tensor of shape (C,), optional
        Last-layer bias (zero if omitted).
    num_classes : int, optional
        ``C``; inferred as ``max(labels) + 1`` (or from ``W``) when omitted.

    Returns
    -------
    NCMetrics
        Every metric, with the class means, the sample mean and the class counts.

    References
    ----------
    Papyan, Han & Donoho (2020), PNAS 117(40): NC1 Fig. 6, NC2 Figs. 2–4, NC3 Fig. 5, NC4 Fig. 7.

    Examples
    --------
    >>> from ncedu import simplex_etf
    >>> means = simplex_etf(3, 5)
    >>> h, y = np.repeat(means, 4, axis=0), np.repeat(np.arange(3), 4)
    >>> m = measure(h, y, W=means)
    >>> round(m.nc1, 12), round(m.nc2_equiangular_means, 12), round(m.nc3, 12), m.nc4
    (0.0, 0.0, 0.0, 0.0)
    """
    H = check_features(features, finite=False)  # finiteness is checked through the class sums below
    y, C = check_labels(labels, H.shape[0], num_classes)
    N, p = H.shape
    Wt, bt = check_classifier(W, b, C, p)
    device, cd = H.device, compute_dtype(H)
    y = y.to(device)
    chunks = _chunks(N, chunk_rows(p, torch.finfo(cd).bits // 8))
    if H.dtype != cd:  # float16 and bfloat16 are measured in float32, one chunk at a time
        def rows_of(r):
            return H[r].to(cd)
    else:
        def rows_of(r):
            return H[r]

    first = ClassSums(C, p, device, cd, shifts=first_rows(H, y, C).to(cd))
    for rows in chunks:
        first.update(rows_of(rows), y[rows])
    means = first.means()
    if not bool(torch.isfinite(means).all()):
        raise_if_not_finite(H, "features")
    counts = first.counts.cpu()
    W64 = None if Wt is None else Wt.to("cpu", torch.float64)
    b64 = None if bt is None else bt.to("cpu", torch.float64)
    # the pass-1 sums were taken about a row of each class, so its means are exact to rounding of
    # the spread: pass 2 needs no residual sums to refine them
    second = ResidualProjections(means, counts, W64, b64, device, cd, means_exact=True)
    for rows in chunks:
        second.update(rows_of(rows), y[rows])
    return _metrics_from_pass(second.results(), counts, Wt, bt)


def _metrics_from_pass(out: dict, counts: torch.Tensor, W: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> NCMetrics:
    """:class:`NCMetrics` from a second pass's results (:meth:`ncedu._passes.ResidualProjections.results`):
    the metrics in the pass's units (they are ratios), the means back in the features' units."""
    m = _assemble_metrics(class_means=out["means"], counts=counts, nc1_trace=out["nc1_trace"],
                         within_ss=out["within_ss"], W=W, b=b, nc4=out["nc4"], degenerate=out["degenerate"])
    if out["scale"] == 1.0:
        return m
    return dataclasses.replace(m, class_means=m.class_means / out["scale"], global_mean=m.global_mean / out["scale"])
