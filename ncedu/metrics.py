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
  equiangularity ``std_{c != c'} cos(mu_c - mu_G, mu_{c'} - mu_G)`` (Fig. 3, also for ``w_c``);
  max-angle ``avg_{c != c'} |cos(mu_c - mu_G, mu_{c'} - mu_G) + 1/(C-1)|`` (Fig. 4).
  Standard deviations are unbiased (ddof = 1), over the C(C-1)/2 unordered pairs.
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

import math
import warnings
from dataclasses import dataclass, fields
from typing import Any, Optional

import numpy as np
import torch

from ._validation import check_classifier, check_features, check_labels, compute_dtype, raise_if_not_finite

__all__ = [
    "NCMetrics",
    "measure",
    "class_means",
    "global_mean",
    "within_class_covariance",
    "between_class_covariance",
    "total_covariance",
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

# Rows of features processed at a time: keeps the working set in cache and memory O(chunk * p).
_CHUNK_ROWS = 2048


def _chunks(n: int, size: int = _CHUNK_ROWS):
    """Slices covering ``range(n)`` in consecutive chunks of ``size`` rows."""
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


@dataclass(frozen=True, eq=False)
class NCMetrics:
    """The neural-collapse metrics of one set of features (and optionally a classifier).

    Classifier fields (``*_classifiers``, ``nc3``, ``nc4``) are ``None`` when no ``W`` was given;
    ``nc4`` is also ``None`` from a streaming accumulator that was not given a second pass.
    Arrays are float64 numpy arrays on the CPU.
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
        return int(self.class_means.shape[0])

    @property
    def centred_means(self) -> np.ndarray:
        """``M``: the (C, p) matrix of centred class means ``mu_c - mu_G``."""
        return self.class_means - self.global_mean

    def as_dict(self, arrays: bool = False) -> dict[str, Any]:
        """The scalar metrics as a dict (``None`` where undefined); with ``arrays=True`` also the means and counts."""
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


def between_class_eigenbasis(centred_means: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Eigenvectors (rows) and eigenvalues of ``Sigma_B = M^T M / C`` on its range.

    Computed from the SVD ``M / sqrt(C) = U diag(s) V^T``, so ``Sigma_B = V diag(s^2) V^T``
    without forming the (p, p) matrix. At most ``C - 1`` directions are kept (the rows of ``M``
    have a vanishing weighted sum, so ``rank Sigma_B <= C - 1``), and singular values below
    ``max(C, p) * eps * s_max`` count as zero, as in ``numpy.linalg.matrix_rank``; this is the
    pseudo-inverse's range.
    """
    C, p = centred_means.shape
    _, s, Vh = torch.linalg.svd(centred_means / math.sqrt(C), full_matrices=False)
    if s.numel() == 0 or float(s[0]) == 0.0:
        return Vh[:0], s[:0] ** 2
    tol = max(C, p) * torch.finfo(s.dtype).eps * s[0]
    k = min(int((s > tol).sum()), C - 1)
    return Vh[:k], s[:k] ** 2


def _std_over_mean(x: torch.Tensor) -> float:
    """Coefficient of variation with the unbiased std (ddof = 1)."""
    return float(x.std(correction=1) / x.mean())


def _angle_metrics(rows: torch.Tensor) -> tuple[float, float]:
    """Equiangularity (unbiased std of pairwise cosines) and max-angle (mean |cos + 1/(C-1)|) of the rows."""
    C = rows.shape[0]
    U = rows / rows.norm(dim=1, keepdim=True)
    iu = torch.triu_indices(C, C, offset=1)
    cos = (U @ U.T)[iu[0], iu[1]]
    equiangular = float(cos.std(correction=1)) if cos.numel() > 1 else 0.0
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


def self_duality_distance(W: torch.Tensor, centred_means: torch.Tensor) -> float:
    """NC3: ``|| W/||W||_F - M/||M||_F ||_F^2`` with ``W`` and ``M`` both (C, p), one row per class."""
    return float(((W / W.norm()) - (centred_means / centred_means.norm())).pow(2).sum())


def cdnv_from_variances(class_means: torch.Tensor, class_variances: torch.Tensor) -> float:
    """Average over class pairs ``c < c'`` of ``(sigma_c^2 + sigma_{c'}^2) / (2 ||mu_c - mu_{c'}||^2)``."""
    C = class_means.shape[0]
    iu = torch.triu_indices(C, C, offset=1)
    dist2 = (class_means[iu[0]] - class_means[iu[1]]).pow(2).sum(1)
    return float(((class_variances[iu[0]] + class_variances[iu[1]]) / (2 * dist2)).mean())


def assemble_metrics(
    *,
    class_means: torch.Tensor,
    counts: torch.Tensor,
    nc1_trace: float,
    within_ss: torch.Tensor,
    W: Optional[torch.Tensor],
    b: Optional[torch.Tensor],
    nc4: Optional[float],
) -> NCMetrics:
    """Build :class:`NCMetrics` from the class statistics (float64, CPU).

    ``nc1_trace`` is ``Tr(Sigma_W Sigma_B^+)`` (NaN if ``Sigma_B = 0``); ``within_ss[c]`` is
    ``sum_{i in c} ||h_i - mu_c||^2``.
    """
    C = class_means.shape[0]
    N = float(counts.sum())
    mu_G = (counts.to(class_means.dtype) @ class_means) / N
    M = class_means - mu_G
    eq_m, ang_m, max_m = _norm_and_angle_metrics(M, "centred class means")
    trace_B = float(M.pow(2).sum() / C)
    trace_W = float(within_ss.sum() / N)
    with np.errstate(divide="ignore", invalid="ignore"):
        trace_ratio = trace_W / trace_B if trace_B > 0 else float("nan")
    cdnv = cdnv_from_variances(class_means, within_ss / counts.to(within_ss.dtype))
    eq_w = ang_w = max_w = nc3 = None
    if W is not None:
        Wd = W.to("cpu", torch.float64)
        eq_w, ang_w, max_w = _norm_and_angle_metrics(Wd, "classifier rows W")
        nc3 = self_duality_distance(Wd, M) if float(M.norm()) > 0 and float(Wd.norm()) > 0 else float("nan")
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


def nc1_trace_from_projections(z: torch.Tensor, onehot: torch.Tensor, counts: torch.Tensor) -> float:
    """``sum_i ||z_i - zbar_{y_i}||^2 / N``: the within-class scatter of whitened projections ``z`` (N, k).

    With ``z_i = Lambda^{-1/2} V (h_i - mu_{y_i})`` this is ``Tr(Sigma_W Sigma_B^+)``. The class means
    ``zbar_c`` of ``z`` vanish up to rounding; removing them anyway (``onehot`` is the (C, N) class
    indicator) makes the result independent of small errors in the class means.
    """
    zbar = (onehot @ z) / counts.unsqueeze(1)
    scatter = z.pow(2).sum() - (counts.unsqueeze(1) * zbar.pow(2)).sum()
    return max(float(scatter / counts.sum()), 0.0)


# ----------------------------------------------------------------------------------------------
# The one-shot measurement
# ----------------------------------------------------------------------------------------------


def measure(features: Any, labels: Any, W: Any = None, b: Any = None, *, num_classes: Optional[int] = None) -> NCMetrics:
    r"""Measure neural collapse NC1–NC4 of last-layer features, as defined by Papyan, Han & Donoho (2020).

    .. math::

        \mathrm{NC1} = \tfrac{1}{C}\operatorname{Tr}(\Sigma_W \Sigma_B^{\dagger}), \quad
        \mathrm{NC3} = \Big\| \tfrac{W}{\|W\|_F} - \tfrac{M}{\|M\|_F} \Big\|_F^2, \quad
        \mathrm{NC4} = \tfrac{1}{N}\#\{i : \arg\max_c (w_c^\top h_i + b_c) \neq \arg\min_c \|h_i - \mu_c\|\}

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
    counts = torch.bincount(y, minlength=C).to("cpu", torch.float64)

    # Pass 1: class sums, chunk by chunk in the compute dtype (a chunk holds few rows of each
    # class, so rounding stays at the level of a short sum), accumulated in float64.
    sums = torch.zeros(C, p, dtype=torch.float64, device=device)
    chunk_sums = torch.empty(C, p, dtype=cd, device=device)
    for rows in _chunks(N):
        sums += chunk_sums.zero_().index_add_(0, y[rows], H[rows].to(cd))
    sums = sums.cpu()
    if not bool(torch.isfinite(sums).all()):
        raise_if_not_finite(H, "features")
    means = sums / counts.unsqueeze(1)  # (C, p) float64
    mu_G = (counts @ means) / N
    M = means - mu_G

    V, lam = between_class_eigenbasis(M)  # (k, p), (k,)
    k = V.shape[0]
    # Pass 2: one product of the residuals r_i = h_i - mu_{y_i} with
    #   P = [ whitened between-class directions V^T / sqrt(lambda) (k columns) | classifier rows W^T (C) ]
    # and the residuals' norms. Residuals are formed chunk by chunk in one reused buffer.
    P = V.T / lam.sqrt()
    if Wt is not None:
        P = torch.cat([P, Wt.to("cpu", torch.float64).T], dim=1)
    means_cd, P_cd = means.to(device, cd), P.to(device, cd)
    Z = torch.empty(N, P.shape[1], dtype=cd, device=device)
    norms = torch.empty(N, dtype=cd, device=device)
    buffer = torch.empty(min(N, _CHUNK_ROWS), p, dtype=cd, device=device)
    for rows in _chunks(N):
        R = buffer[: rows.stop - rows.start]
        torch.index_select(means_cd, 0, y[rows], out=R)
        torch.sub(H[rows], R, out=R)
        torch.mm(R, P_cd, out=Z[rows])
        torch.linalg.vector_norm(R, dim=1, out=norms[rows])

    # Back on the CPU in float64, with small (N, k + C) arrays only. The residuals were taken
    # about the class means rounded to the compute dtype; delta is that rounding, so the exact
    # projections are Z - (delta P)_{y_i}. Per-row terms that depend only on the class are
    # gathered from one (C, .) table:  [ -delta P | M M^T | mu W^T ].
    y_cpu = y.cpu()
    onehot = torch.zeros(C, N, dtype=torch.float64).scatter_(0, y_cpu.unsqueeze(0), 1.0)
    delta = means - means_cd.to("cpu", torch.float64)
    table = [-(delta @ P), M @ M.T]
    if Wt is not None:
        table.append(means @ P[:, k:])
    per_class = torch.cat(table, dim=1)[y_cpu]
    Z = Z.to("cpu", torch.float64) + per_class[:, : P.shape[1]]
    within_ss = onehot @ norms.to("cpu", torch.float64).pow(2) - counts * delta.pow(2).sum(1)
    Zv = Z[:, :k]

    if k == 0:
        warnings.warn(
            "all class means coincide (Sigma_B = 0), so NC1 = Tr(Sigma_W Sigma_B^+)/C is undefined; reported as NaN",
            RuntimeWarning,
            stacklevel=2,
        )
        nc1_trace = float("nan")
    else:
        nc1_trace = nc1_trace_from_projections(Zv, onehot, counts)

    nc4 = None
    if Wt is not None:
        # NCC: argmin_c ||h - mu_c||^2 = argmin_c ||M_c||^2 - 2 (h - mu_G) . M_c with h - mu_G = r + M_{y}.
        # M_c lies in the span of V, so r . M_c = sum_j Zv_ij sqrt(lambda_j) (v_j . M_c).
        K = P.shape[1]
        rM = Zv @ (lam.sqrt().unsqueeze(1) * (V @ M.T))
        ncc = torch.argmin(M.pow(2).sum(1) - 2.0 * (rM + per_class[:, K : K + C]), dim=1)
        logits = Z[:, k:] + per_class[:, K + C :]
        if bt is not None:
            logits = logits + bt.to("cpu", torch.float64)
        net = torch.argmax(logits, dim=1)
        nc4 = float((net != ncc).to(torch.float64).mean())

    return assemble_metrics(
        class_means=means, counts=counts, nc1_trace=nc1_trace, within_ss=within_ss, W=Wt, b=bt, nc4=nc4
    )


# ----------------------------------------------------------------------------------------------
# The statistics themselves, for teaching and checking (float64, forms the (p, p) matrices)
# ----------------------------------------------------------------------------------------------


def _prepared(features: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, int]:
    H = check_features(features)
    y, C = check_labels(labels, H.shape[0])
    return H.to("cpu", torch.float64).numpy(), y.cpu().numpy(), C


def class_means(features: Any, labels: Any) -> np.ndarray:
    """The (C, p) class means ``mu_c = (1/n_c) sum_{i: y_i = c} h_i`` (float64)."""
    H, y, C = _prepared(features, labels)
    return np.stack([H[y == c].mean(0) for c in range(C)])


def global_mean(features: Any) -> np.ndarray:
    """The global mean ``mu_G = (1/N) sum_i h_i`` (the sample mean; not the mean of class means)."""
    return check_features(features).to("cpu", torch.float64).numpy().mean(0)


def within_class_covariance(features: Any, labels: Any) -> np.ndarray:
    """``Sigma_W = (1/N) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T``, centred at each sample's *class* mean."""
    H, y, C = _prepared(features, labels)
    mu = np.stack([H[y == c].mean(0) for c in range(C)])
    R = H - mu[y]
    return R.T @ R / H.shape[0]


def between_class_covariance(features: Any, labels: Any) -> np.ndarray:
    """``Sigma_B = (1/C) sum_c (mu_c - mu_G)(mu_c - mu_G)^T`` with ``mu_G`` the sample mean."""
    H, y, C = _prepared(features, labels)
    mu = np.stack([H[y == c].mean(0) for c in range(C)])
    M = mu - H.mean(0)
    return M.T @ M / C


def total_covariance(features: Any) -> np.ndarray:
    """``Sigma_T = (1/N) sum_i (h_i - mu_G)(h_i - mu_G)^T``; equals ``Sigma_W + Sigma_B`` for balanced classes."""
    H = check_features(features).to("cpu", torch.float64).numpy()
    R = H - H.mean(0)
    return R.T @ R / H.shape[0]
