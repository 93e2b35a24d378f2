r"""The two passes over the features that every measurement of ``ncedu`` is made of.

Both :func:`ncedu.measure` (features in memory, in chunks) and the streaming path
(:class:`ncedu.NCAccumulator` and its second pass, :func:`ncedu.measure_model`) run the same two
passes; only where the features come from differs.

**Pass 1, approximate class sums.** Counts ``n_c`` and class sums, each chunk's rows, less a
row of their class, added to their class's sum in the features' precision (``index_add_``: one
read of the features, no ``C``-fold product), then added up in float64. Taken about the
origin, float32 sums would carry rounding of the features' *magnitude* (with an offset of 100
and a within-class spread of ``10^-4``, of the order of the spread itself); about a row of their
class they carry rounding of the spread only, so the means ``m̂_c`` are close enough to centre
pass 2's residuals on, and pass 2 refines them to exact.

**Pass 2, residual projections.** With ``V`` (k x p, k <= C-1) and ``lambda`` the eigenvectors and
eigenvalues of ``Sigma_B`` from the pass-1 means, every row's residual ``r_i = h_i - m̂_{y_i}``
(formed in the features' precision; exact when ``m̂`` is close, by Sterbenz's lemma) is projected
once on ``P = [V^T | W^T]``, an (N, p) x (p, k + C) product, and per class the
pass sums ``r_i``, ``||r_i||^2``, ``z_i = V r_i`` and the k x k Gram matrix of the ``z_i``, and counts the
rows whose network decision differs from the nearest class centre. Then

* the exact class means are ``m_c = m̂_c + rbar_c`` (``rbar_c`` the mean residual of class c);
* ``Tr(Sigma_W Sigma_B^+) = (1/N) sum_c [ sum_{i in c} ||z_i||^2 - n_c ||zbar_c||^2 ]`` (removing
  ``zbar_c`` makes NC1 independent of the small error in ``m̂``);
* ``sum_{i in c} ||h_i - m_c||^2 = sum_{i in c} ||r_i||^2 - n_c ||rbar_c||^2``;
* nearest-centre decisions use ``||h - m̂_c||^2 = ||M̂_c||^2 - 2 (h - μ̂_G) . M̂_c + const`` with
  ``(h - μ̂_G) . M̂_c = r . M̂_c + (m̂_y - μ̂_G) . M̂_c`` and ``r . M̂_c = z . (V M̂_c)`` read off the
  projections (``M̂_c`` lies in the span of ``V``): a (B, k) x (k, C) product, so neither a
  distance to every centre nor a second (p, C) product is formed.

Memory is O(chunk · p + C · p) beyond the input: nothing of size N but the labels. Metrics are
invariant to rescaling the features, so values too large or too small to square in their
precision (float32 beyond about 10^18 or subnormal) are multiplied by a power of two in pass 2.
"""

from __future__ import annotations

import math
import warnings
from typing import Optional

import torch

F64 = torch.float64

#: Bytes of features processed at a time by :func:`ncedu.measure`: a chunk and the residuals made
#: from it stay in the processor's cache between the operations of a pass, and extra memory is
#: O(chunk · p).
CHUNK_BYTES = 1 << 22


def chunk_rows(dim: int, itemsize: int = 4) -> int:
    """Rows per chunk for features of dimension ``dim``: about :data:`CHUNK_BYTES`, between 128 and 4096."""
    return int(min(4096, max(128, CHUNK_BYTES // max(1, dim * itemsize))))


#: Class sums are kept in the features' precision over at most this many rows or chunks, then
#: added to float64 (their values are residuals, small, so the short float32 sums lose nothing).
_FLUSH_ROWS = 4096
_FLUSH_UPDATES = 32


def between_class_eigenbasis(centred_means: torch.Tensor, data_scale: float = 0.0,
                             eps: Optional[float] = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Eigenvectors (rows) and eigenvalues of ``Sigma_B = M^T M / C`` on its range.

    Computed from the SVD ``M / sqrt(C) = U diag(s) V^T``, so ``Sigma_B = V diag(s^2) V^T``
    without forming the (p, p) matrix. At most ``C - 1`` directions are kept (the rows of ``M``
    have a vanishing weighted sum). A singular value counts as zero below
    ``max(max(C, p) * eps * s_max, eps * data_scale)``: the first term is numerical rank as in
    ``numpy.linalg.matrix_rank``; the second is the rounding level of class means whose size is
    ``data_scale`` (the largest ``||mu_c||``, uncentred), so that means which differ only by
    rounding (constant features, a dead network) have no between-class directions at all instead
    of inverted noise. ``eps`` defaults to the machine epsilon of ``centred_means``' dtype.
    """
    C, p = centred_means.shape
    eps = torch.finfo(centred_means.dtype).eps if eps is None else eps
    _, s, Vh = torch.linalg.svd(centred_means / math.sqrt(C), full_matrices=False)
    if s.numel() == 0:
        return Vh[:0], s[:0] ** 2
    tol = max(max(C, p) * eps * float(s[0]), eps * data_scale)
    k = min(int((s > tol).sum()) if float(s[0]) > 0 else 0, C - 1)
    return Vh[:k], s[:k] ** 2


def apply_scale(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x * scale`` for a power of two ``scale`` that may not be representable in ``x``'s dtype
    (float32 reaches only 2^127): multiplied in two exact steps."""
    if scale == 1.0:
        return x
    exponent = math.frexp(scale)[1] - 1
    half = 2.0 ** (exponent // 2)
    return x * half * (scale / half)


def _power_of_two_scale(magnitude: float, dtype: torch.dtype) -> float:
    """A power of two that brings ``magnitude`` near 1 when its square would over- or underflow ``dtype``."""
    if not (magnitude > 0 and math.isfinite(magnitude)):
        return 1.0
    max_exponent = math.frexp(torch.finfo(dtype).max)[1]  # float32: 128; float64: 1024
    limit = 2.0 ** (max_exponent // 4)  # float32: 2^32; float64: 2^256
    if 1.0 / limit <= magnitude <= limit:
        return 1.0
    return 2.0 ** (-math.floor(math.log2(magnitude)))


class ClassSums:
    """Pass 1 over chunks of features already on one device in one dtype: counts and approximate class sums.

    Each chunk's rows, less their class's shift (a row of that class, so the differences are of
    the size of the within-class spread and exact by Sterbenz's lemma), are added to their class's
    sum in the features' precision (``index_add_``, read once, no ``C``-fold product); the chunk's
    sums are then added up in float64. Without the shift, sums of float32 rows far from the origin
    carry the rounding of the features' magnitude, which can exceed the spread itself. Pass 2
    makes the means exact in any case (module docstring); the shift keeps its residuals small.
    """

    def __init__(self, num_classes: int, dim: int, device: torch.device, dtype: torch.dtype,
                 shifts: torch.Tensor) -> None:
        self.num_classes, self.dim, self.device, self.dtype = num_classes, dim, device, dtype
        self.shifts = shifts.to(device, dtype)  # (C, p): one row of each class
        self.counts = torch.zeros(num_classes, dtype=F64, device=device)
        self.sums = torch.zeros(num_classes, dim, dtype=F64, device=device)
        self._short = torch.zeros(num_classes, dim, dtype=dtype, device=device)
        self._buffer: Optional[torch.Tensor] = None

    def update(self, H: torch.Tensor, y: torch.Tensor) -> None:
        B = H.shape[0]
        if self._buffer is None or self._buffer.shape[0] < B:
            self._buffer = torch.empty(B, self.dim, dtype=self.dtype, device=self.device)
        R = self._buffer[:B]
        torch.index_select(self.shifts, 0, y, out=R)
        torch.sub(H, R, out=R)
        self._short.index_add_(0, y, R)  # a chunk (at most 4096 rows) in the features' precision
        self.sums += self._short
        self._short.zero_()
        self.counts += torch.bincount(y, minlength=self.num_classes)

    def means(self) -> torch.Tensor:
        """The (C, p) approximate class means, float64 on the CPU (a class without samples gives NaN)."""
        return self.shifts.to("cpu", F64) + self.sums.cpu() / self.counts.cpu().unsqueeze(1)


def first_rows(H: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The (C, p) first row of each class in ``H`` (zeros for a class without rows): shifts for :class:`ClassSums`."""
    N = H.shape[0]
    first = torch.full((num_classes,), N, dtype=torch.int64, device=y.device)
    first.scatter_reduce_(0, y, torch.arange(N, device=y.device), reduce="amin")
    present = first < N
    shifts = torch.zeros(num_classes, H.shape[1], dtype=H.dtype, device=H.device)
    shifts[present] = H[first[present]]
    return shifts


class ResidualProjections:
    """Pass 2: residuals about the pass-1 means, projected once; see the module docstring.

    Parameters
    ----------
    means : (C, p) float64
        The pass-1 class means ``m̂_c``.
    counts : (C,) float64
        Class counts (all positive).
    W, b : the classifier (float64, CPU) or None; NC4 is counted when ``W`` is given.
    device, dtype : where the features come from and their compute precision.
    means_exact : bool
        The pass-1 means are already exact (the streaming accumulator's, kept about per-class
        shifts): the pass then skips the per-class residual sums that would refine them.
    """

    def __init__(self, means: torch.Tensor, counts: torch.Tensor, W: Optional[torch.Tensor],
                 b: Optional[torch.Tensor], device: torch.device, dtype: torch.dtype,
                 means_exact: bool = False) -> None:
        C, p = means.shape
        self.num_classes, self.dim, self.device, self.dtype = C, p, device, dtype
        self.means_hat, self.counts, self.means_exact = means, counts, means_exact
        mu_hat = counts @ means / counts.sum()
        M_hat = means - mu_hat
        # A power of two applied to the features in this pass when their squares would leave the
        # range of their dtype (metrics are scale-invariant; sums are scaled back).
        self.scale = s = _power_of_two_scale(max(float(M_hat.abs().max()), 0.0), dtype)
        data_scale = float((means * s).norm(dim=1).max())
        self.V, _ = between_class_eigenbasis(M_hat * s, data_scale, eps=torch.finfo(dtype).eps)
        k = self.k = self.V.shape[0]
        self.centres = (means * s).to(device, dtype)  # residual centres, rounded to the compute dtype
        # One product per row gives z = V r (k) and r W^T (C), in scaled units; r . (s M̂_c) = z . (V sM̂_c)
        # follows from z by a (k, C) product, since M̂_c lies in the span of V.
        self.has_classifier = W is not None
        columns = [self.V.T]
        if W is not None:
            sM = s * M_hat
            columns.append(W.T)
            self.ncc_of_z = (self.V @ sM.T).to(device, dtype)  # (k, C)
            c64 = self.centres.to("cpu", F64)
            # network: argmax_c [r W^T + (c W^T)_y + s b]; nearest centre: argmin_c ||sM̂_c||^2 - 2 (h' - sμ̂).sM̂_c
            # = argmax_c [ z.(V sM̂_c) + ((c_y - sμ̂).sM̂_c - ||sM̂_c||^2 / 2) ]
            self.logit_table = (c64 @ W.T + (0.0 if b is None else s * b)).to(device, dtype)
            self.ncc_table = ((c64 - s * mu_hat) @ sM.T - 0.5 * sM.pow(2).sum(1)).to(device, dtype)
        self.P = torch.cat(columns, dim=1).to(device, dtype)
        # sums in the compute dtype over a few thousand rows (residuals are small), then in float64:
        # per class r and z, ||r||^2 per class, and the pooled k x k Gram matrix of z
        shapes = {"rr": (C,), "z": (C, k), "zz": (k, k)}
        if not means_exact:
            shapes["r"] = (C, p)
        self._totals = {name: torch.zeros(shape, dtype=F64, device=device) for name, shape in shapes.items()}
        self._short = {name: torch.zeros_like(t, dtype=dtype) for name, t in self._totals.items()}
        self._rows_in_short = self._updates_in_short = 0
        self._mismatches = torch.zeros((), dtype=torch.int64, device=device)
        self.seen = 0
        self._buffer: Optional[torch.Tensor] = None

    def update(self, H: torch.Tensor, y: torch.Tensor) -> None:
        """Add a chunk of features (B, p) in the pass's device and dtype, with labels (B,)."""
        B = H.shape[0]
        if self._buffer is None or self._buffer.shape[0] < B:
            self._buffer = torch.empty(B, self.dim, dtype=self.dtype, device=self.device)
        R = self._buffer[:B]
        torch.index_select(self.centres, 0, y, out=R)
        torch.sub(apply_scale(H, self.scale), R, out=R)
        Z = R @ self.P  # (B, k [+ 2C])
        k = self.k
        Zv = Z[:, :k]
        short = self._short
        if not self.means_exact:
            short["r"].index_add_(0, y, R)
        short["rr"].index_add_(0, y, torch.linalg.vector_norm(R, dim=1).square_())
        short["z"].index_add_(0, y, Zv)
        short["zz"].addmm_(Zv.T, Zv)
        self.seen += B
        self._rows_in_short += B
        self._updates_in_short += 1
        if self._rows_in_short >= _FLUSH_ROWS or self._updates_in_short >= _FLUSH_UPDATES:
            self._flush()
        if self.has_classifier:
            network = Z[:, k:].add_(torch.index_select(self.logit_table, 0, y)).argmax(1)
            nearest = torch.addmm(torch.index_select(self.ncc_table, 0, y), Zv, self.ncc_of_z).argmax(1)
            self._mismatches += (network != nearest).sum()

    def _flush(self) -> None:
        for name, total in self._totals.items():
            total += self._short[name]
            self._short[name].zero_()
        self._rows_in_short = self._updates_in_short = 0

    def results(self) -> dict:
        """Exact class means, within-class sums of squares, ``Tr(Sigma_W Sigma_B^+)`` and the mismatch rate.

        Float64 on the CPU. ``means`` and ``within_ss`` are in the pass's units, the features times
        ``scale`` (a power of two, 1 unless the features are too large or too small to square);
        every metric is a ratio, the same in either unit. ``nc1_trace`` is NaN (with a warning)
        when ``Sigma_B`` has no range.
        Raises ``ValueError`` when the rows seen disagree with the pass-1 counts.
        """
        self._flush()
        counts = self.counts.cpu()
        N = float(counts.sum())
        if self.seen != int(N):
            raise ValueError(f"the second pass saw {self.seen} samples but the first saw {int(N)}; "
                             "pass the same data to both")
        s = self.scale
        totals = {name: t.cpu() for name, t in self._totals.items()}
        centres = self.centres.to("cpu", F64)
        if self.means_exact:
            rbar = self.means_hat * s - centres  # the residuals' class means, known exactly
        else:
            rbar = totals["r"] / counts.unsqueeze(1)
        means = centres + rbar  # in the pass's units (the features times the scale)
        within_ss = (totals["rr"] - counts * rbar.pow(2).sum(1)).clamp_min(0.0)
        if not (bool(torch.isfinite(within_ss).all()) and bool(torch.isfinite(means).all())):
            raise ValueError("the features contain NaN or infinite values, or values whose squares overflow "
                             "float64; pass finite features (rescaled if they are huge)")
        if self.k == 0:
            warnings.warn(
                "all class means coincide up to rounding (Sigma_B = 0), so NC1 = Tr(Sigma_W Sigma_B^+)/C and the "
                "between-class quantities are undefined; reported as NaN",
                RuntimeWarning,
                stacklevel=3,
            )
            nc1_trace = float("nan")
        else:
            # Sigma_W on the span of V (k x k), and Sigma_B there from the exact means: the product's
            # trace is NC1's, with V from pass 1 and everything else exact
            V = self.V
            zbar = rbar @ V.T  # the class means of z
            sigma_w = (totals["zz"] - (zbar * counts.unsqueeze(1)).T @ zbar) / N
            M = means - counts @ means / N
            sigma_b = (V @ M.T) @ (M @ V.T) / self.num_classes
            lam, Q = torch.linalg.eigh(sigma_b)
            keep = lam > lam.max() * self.k * torch.finfo(F64).eps
            inverse = (Q[:, keep] / lam[keep]) @ Q[:, keep].T
            nc1_trace = max(float((sigma_w * inverse).sum()), 0.0)
        rate = int(self._mismatches) / N if self.has_classifier else None
        return {"means": means, "within_ss": within_ss, "scale": s, "nc1_trace": nc1_trace, "nc4": rate,
                "degenerate": self.k == 0}
