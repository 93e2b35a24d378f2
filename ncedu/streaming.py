r"""Streaming neural-collapse metrics: batch by batch, across workers and ``torch.distributed`` ranks.

For features that do not fit in memory, or that come from a model batch by batch. Two ways, both
exact (the same definitions as :func:`ncedu.measure`, to float64 rounding of the features given):

* **Two passes, fast** (what :func:`ncedu.measure_model` does): :class:`NCAccumulator` with
  ``second_moment=False`` keeps only counts and class sums (O(C p) memory, O(B p) work per batch);
  :meth:`~ncedu.NCAccumulator.second_pass` then returns a :class:`SecondPass` that takes the same batches
  again and projects each residual once on the between-class directions and on ``W``
  (O(B p (C + k)) per batch, like :func:`ncedu.measure`), giving NC1 exactly and NC4 at no extra
  cost. Use it whenever the data can be read twice (a ``DataLoader``, files, a dataset).
* **One pass**: :class:`NCAccumulator` (the default, ``second_moment=True``) also keeps the pooled
  within-class second moment, a (p, p) matrix, so :meth:`~ncedu.NCAccumulator.compute` gives NC1–NC3
  after a single pass; it costs O(B p^2) per batch. NC4 still needs the final class means first,
  so it takes a second pass (:class:`SecondPass` or :class:`NearestCentreMismatch`).

Precision. Statistics are kept about a **shift per class** (the first sample of that class the
accumulator saw): ``n_c``, ``u_c = sum_{i in c} (h_i - s_c)``, ``q_c = sum_{i in c} ||h_i - s_c||^2``
and, with the second moment, ``T = sum_i (h_i - s_{y_i})(h_i - s_{y_i})^T``. The shifted values are
of the size of the within-class spread, so nothing cancels however far the features sit from the
origin and however strongly they have collapsed. Each batch's products run in the features'
precision (float32 for float32 features) and short runs of them are added up in float64. Then
``mu_c = s_c + u_c / n_c``, ``sum_{i in c} ||h_i - mu_c||^2 = q_c - ||u_c||^2 / n_c`` and the
within-class scatter is ``T - sum_c u_c u_c^T / n_c``, formed once in :meth:`~ncedu.NCAccumulator.compute`.

Merging (another worker's accumulator, or ``torch.distributed`` ranks with
:meth:`~ncedu.NCAccumulator.all_reduce`) first moves the statistics to common shifts: for a shift change
``delta = s' - s``, ``u' = u + n delta``, ``q' = q + 2 delta . u + n ||delta||^2`` and
``T' = T + delta^T u + u^T delta + delta^T diag(n) delta`` (summed over classes), then adds them.
Across ranks the common shift of a class is the average of the ranks' shifts (one all-reduce),
then one all-reduce sums the moved statistics.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Optional, Union

import torch

from ._passes import _power_of_two_scale, apply_scale, between_class_eigenbasis
from ._second_pass import NearestCentreMismatch, SecondPass, _dist
from ._validation import (
    ArrayLike,
    check_classifier,
    check_features,
    check_labels,
    check_num_classes,
    check_real,
    compute_dtype,
    raise_if_not_finite,
)
from .metrics import NCMetrics, _metrics_from_pass

__all__ = ["NCAccumulator", "SecondPass", "NearestCentreMismatch"]

F64 = torch.float64
# Short sums in the features' precision are added to float64 after this many rows or batches, whichever
# comes first, so that no float32 sum runs over more than a few thousand rows or a few dozen additions.
_FLUSH_ROWS = 4096
_FLUSH_UPDATES = 32


class NCAccumulator:
    """Accumulates the statistics of NC1–NC3 over batches, exactly, in O(C p + p^2) memory.

    Parameters
    ----------
    num_classes : int
        ``C``; labels must lie in ``0..C-1``.
    device : torch.device or str, optional
        Where the statistics live (default: the device of the first batch). Keeping them on the
        GPU that produces the features avoids a host transfer per batch.
    second_moment : bool, default True
        Keep the (p, p) within-class second moment, so that :meth:`compute` gives NC1 after one
        pass (O(B p^2) work per batch). With ``False`` only counts and class sums are kept (O(B p)
        per batch) and NC1 comes from :meth:`second_pass`, the fast way when the data can be
        read twice.

    Attributes
    ----------
    num_classes : int
        ``C``.
    second_moment : bool
        Whether the (p, p) second moment is kept.
    device : torch.device or None
        Where the statistics live (None until the first batch when not given).
    counts : torch.Tensor of shape (C,) or None
        ``n_c``, the samples seen of each class (float64).
    shifts : torch.Tensor of shape (C, p) or None
        ``s_c``, each class's shift: the first sample of the class seen.
    sums : torch.Tensor of shape (C, p) or None
        ``u_c = sum_{i in c} (h_i - s_c)``, in units of :attr:`scale`.
    squares : torch.Tensor of shape (C,) or None
        ``q_c = sum_{i in c} ||h_i - s_c||^2``, in units of :attr:`scale` squared.
    moment : torch.Tensor of shape (p, p) or None
        ``T = sum_i (h_i - s_{y_i})(h_i - s_{y_i})^T`` (with ``second_moment``).
    scale : float or None
        A power of two the shifted features are multiplied by (1 unless they are huge or tiny).

    Notes
    -----
    All are None before the first batch; the statistics may lag the last batches until they are
    read through a method (short sums in the features' precision are added on demand).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> H, y = rng.standard_normal((300, 5)) + 3 * np.eye(3, 5)[np.arange(300) % 3], np.arange(300) % 3
    >>> acc = NCAccumulator(num_classes=3)
    >>> for start in range(0, 300, 64):
    ...     _ = acc.update(H[start:start + 64], y[start:start + 64])
    >>> from ncedu import measure
    >>> bool(np.isclose(acc.compute().nc1, measure(H, y).nc1, rtol=1e-10))
    True
    >>> fast = NCAccumulator(3, second_moment=False)          # two passes, no (p, p) matrix
    >>> for start in range(0, 300, 64):
    ...     _ = fast.update(H[start:start + 64], y[start:start + 64])
    >>> again = fast.second_pass()
    >>> for start in range(0, 300, 64):
    ...     _ = again.update(H[start:start + 64], y[start:start + 64])
    >>> bool(np.isclose(again.compute().nc1, measure(H, y).nc1, rtol=1e-10))
    True
    """

    def __init__(self, num_classes: int, device: Optional[Union[str, torch.device]] = None,
                 second_moment: bool = True) -> None:
        self.num_classes = check_num_classes(num_classes)
        if not isinstance(second_moment, bool):
            raise TypeError(f"second_moment must be True or False, got {second_moment!r}")
        self.second_moment = second_moment
        self.device = torch.device(device) if device is not None else None
        self.counts: Optional[torch.Tensor] = None  # (C,) float64
        self.shifts: Optional[torch.Tensor] = None  # (C, p) float64, s_c
        self.has_shift: Optional[torch.Tensor] = None  # (C,) bool
        self.sums: Optional[torch.Tensor] = None  # (C, p) float64, u_c
        self.squares: Optional[torch.Tensor] = None  # (C,) float64, q_c
        self.moment: Optional[torch.Tensor] = None  # (p, p) float64, T (with second_moment)
        self._short: dict[str, torch.Tensor] = {}
        self._short_dtype: Optional[torch.dtype] = None
        self._rows_in_short = self._updates_in_short = 0
        self._shifts_cd: Optional[torch.Tensor] = None
        self._buffer: Optional[torch.Tensor] = None  # a batch-sized scratch for the shifted rows
        self.scale: Optional[float] = None  # a power of two applied to h - s_c when the features are huge or tiny
        self._all_shifted = False  # every class has its shift (saves a check per batch)

    # -- state -------------------------------------------------------------------------------
    @property
    def dim(self) -> Optional[int]:
        """``p``, the feature dimension (None before the first batch)."""
        return None if self.sums is None else int(self.sums.shape[1])

    @property
    def num_samples(self) -> int:
        """``N``, the samples added so far (over all classes, merged workers included)."""
        return 0 if self.counts is None else int(self.counts.sum())

    @property
    def means(self) -> Optional[torch.Tensor]:
        """The (C, p) class means so far (float64 on the accumulator's device; NaN for unseen classes)."""
        if self.sums is None:
            return None
        self._flush()
        return self.shifts + self.sums / self.counts.unsqueeze(1) / self.scale

    def _init_state(self, p: int, device: torch.device) -> None:
        C = self.num_classes
        self.device = self.device or device
        dev = self.device
        self.counts = torch.zeros(C, dtype=F64, device=dev)
        self.shifts = torch.zeros(C, p, dtype=F64, device=dev)
        self.has_shift = torch.zeros(C, dtype=torch.bool, device=dev)
        self.sums = torch.zeros(C, p, dtype=F64, device=dev)
        self.squares = torch.zeros(C, dtype=F64, device=dev)
        if self.second_moment:
            self.moment = torch.zeros(p, p, dtype=F64, device=dev)

    def _flush(self) -> None:
        """Add the short sums kept in the features' precision to the float64 statistics."""
        if not self._short:
            return
        self.sums += self._short["u"]
        self.squares += self._short["q"]
        if self.moment is not None:
            self.moment += self._short["T"]
        for t in self._short.values():
            t.zero_()
        self._rows_in_short = self._updates_in_short = 0

    def _short_sums(self, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        if self._short_dtype != dtype:
            self._flush()
            C, p, dev = self.num_classes, self.dim, self.device
            self._short = {"u": torch.zeros(C, p, dtype=dtype, device=dev), "q": torch.zeros(C, dtype=dtype, device=dev)}
            if self.moment is not None:
                self._short["T"] = torch.zeros(p, p, dtype=dtype, device=dev)
            self._short_dtype = dtype
        return self._short

    def _rescale(self, scale: float) -> None:
        """Express the statistics in units of ``scale`` (a power of two) instead of ``self.scale``."""
        ratio = scale / self.scale
        if ratio != 1.0:
            self._flush()
            self.sums *= ratio
            self.squares *= ratio**2
            if self.moment is not None:
                self.moment *= ratio**2
            self.scale = scale

    def _rebase(self, new_shifts: torch.Tensor, where: torch.Tensor) -> None:
        """Move the statistics of the classes in ``where`` to ``new_shifts`` (module docstring)."""
        self._flush()
        delta = torch.where(where.unsqueeze(1), self.shifts - new_shifts, torch.zeros_like(self.shifts)) * self.scale
        # statistics about s are sums of x = h - s; about s' they are sums of x + (s - s')
        n = self.counts.unsqueeze(1)
        if self.moment is not None:
            self.moment += delta.T @ self.sums + self.sums.T @ delta + (delta * n).T @ delta
        self.squares += 2.0 * (delta * self.sums).sum(1) + self.counts * delta.pow(2).sum(1)
        self.sums += n * delta
        self.shifts = torch.where(where.unsqueeze(1), new_shifts, self.shifts)
        self._shifts_cd = None

    # -- updates -----------------------------------------------------------------------------
    def update(self, features: ArrayLike, labels: ArrayLike) -> "NCAccumulator":
        """Add a batch of features with their labels; classes may be missing from a batch.

        A batch with NaN or infinite values is refused before anything is added.

        Parameters
        ----------
        features : array or tensor of shape (B, p)
            The batch's features (numpy or torch, any device and floating dtype; every batch the
            same ``p``).
        labels : array or tensor of shape (B,)
            Their class indices in ``0..C-1``.

        Returns
        -------
        NCAccumulator
            ``self``, so that updates chain.
        """
        H = check_features(features, finite=False)  # checked through the batch's squares below
        y, _ = check_labels(labels, H.shape[0], self.num_classes, require_all_classes=False)
        if self.sums is None:
            self._init_state(H.shape[1], H.device)
        elif H.shape[1] != self.dim:
            raise ValueError(f"features has {H.shape[1]} columns but earlier batches had {self.dim}")
        cd = compute_dtype(H)
        H = H.to(self.device, cd)
        y = y.to(self.device)
        C = self.num_classes
        n_b = torch.bincount(y, minlength=C)
        if not self._all_shifted and not bool(self.has_shift.all()):
            new = (n_b > 0) & ~self.has_shift
            if bool(new.any()):
                if not bool(torch.isfinite(H).all()):
                    raise_if_not_finite(H, "features")
                first = torch.full((C,), H.shape[0], dtype=torch.int64, device=self.device)
                first.scatter_reduce_(0, y, torch.arange(H.shape[0], device=self.device), reduce="amin")
                self.shifts[new] = H[first[new]].to(F64)
                self.has_shift |= new
                self._shifts_cd = None
            self._all_shifted = bool(self.has_shift.all())
        if self.scale is None:  # chosen once, from the first batch: values too large or too small to square
            self.scale = _power_of_two_scale(float(H.abs().max()) if H.numel() else 0.0, cd)
        if self._shifts_cd is None or self._shifts_cd.dtype != cd:
            self._shifts_cd = self.shifts.to(cd)
        if self._buffer is None or self._buffer.shape[0] < H.shape[0] or self._buffer.dtype != cd:
            self._buffer = torch.empty(H.shape[0], self.dim, dtype=cd, device=self.device)
        shifted = self._buffer[:H.shape[0]]
        torch.index_select(self._shifts_cd, 0, y, out=shifted)
        X = apply_scale(torch.sub(H, shifted, out=shifted), self.scale)  # of the size of the within-class spread
        row_squares = torch.linalg.vector_norm(X, dim=1).square_()
        if not math.isfinite(float(row_squares.sum())):
            if not bool(torch.isfinite(H).all()):
                raise_if_not_finite(H, "features")
            X = X.to(F64)  # finite values whose squares overflow the features' precision
            row_squares = X.pow(2).sum(1)
            if not bool(torch.isfinite(row_squares.sum())):
                raise_if_not_finite(H, "features")
        short = self._short_sums(X.dtype)
        short["u"].index_add_(0, y, X)
        short["q"].index_add_(0, y, row_squares)
        if self.moment is not None:
            short["T"].addmm_(X.T, X)
        self.counts += n_b
        self._rows_in_short += H.shape[0]
        self._updates_in_short += 1
        if self._rows_in_short >= _FLUSH_ROWS or self._updates_in_short >= _FLUSH_UPDATES or X.dtype == F64:
            self._flush()
        return self

    def merge(self, other: "NCAccumulator") -> "NCAccumulator":
        """Fold another accumulator (e.g. from another worker) into this one, in place.

        The other's statistics are moved to this accumulator's shifts first (module docstring),
        so the result is the accumulator of both workers' batches, exactly.

        Parameters
        ----------
        other : NCAccumulator
            The same ``num_classes``, ``second_moment`` and feature dimension; left unchanged.

        Returns
        -------
        NCAccumulator
            ``self``.

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.default_rng(1)
        >>> H, y = rng.standard_normal((40, 3)), np.arange(40) % 2
        >>> a, b = NCAccumulator(2).update(H[:25], y[:25]), NCAccumulator(2).update(H[25:], y[25:])
        >>> bool(np.isclose(a.merge(b).compute().nc1, NCAccumulator(2).update(H, y).compute().nc1))
        True
        """
        if not isinstance(other, NCAccumulator):
            raise TypeError(f"other must be an NCAccumulator, got {type(other).__name__}")
        if other.num_classes != self.num_classes:
            raise ValueError(f"cannot merge accumulators with {other.num_classes} and {self.num_classes} classes")
        if other.second_moment != self.second_moment:
            raise ValueError("cannot merge an accumulator with a second moment and one without (second_moment differs)")
        if other.sums is None:
            return self
        if self.sums is None:
            self._init_state(other.dim, other.device)
        elif other.dim != self.dim:
            raise ValueError(f"cannot merge accumulators of feature dimension {other.dim} and {self.dim}")
        other._flush()
        self._flush()
        if self.scale is None:
            self.scale = other.scale
        dev = self.device
        # classes only the other has seen take its shifts; the other's statistics move to ours
        adopt = other.has_shift.to(dev) & ~self.has_shift
        self.shifts[adopt] = other.shifts.to(dev)[adopt]
        self.has_shift |= adopt
        self._shifts_cd = None
        self._all_shifted = bool(self.has_shift.all())
        moved = _copy(other, dev)
        moved._rescale(self.scale)
        moved._rebase(self.shifts, moved.has_shift)
        self.counts += moved.counts
        self.sums += moved.sums
        self.squares += moved.squares
        if self.moment is not None:
            self.moment += moved.moment
        return self

    def all_reduce(self, group: Any = None) -> "NCAccumulator":
        """Combine the statistics of all ranks of a ``torch.distributed`` group, in place, on every rank.

        Every rank must have seen at least one batch (so that the feature dimension is known).
        Three all-reduces: the common scale, the common shifts (the average of the ranks'), the
        moved statistics (module docstring).

        Parameters
        ----------
        group : torch.distributed.ProcessGroup, optional
            The ranks to combine (default: the world).

        Returns
        -------
        NCAccumulator
            ``self``, now holding every rank's batches.

        Raises
        ------
        RuntimeError
            Without an initialised process group, or before this rank's first batch.
        """
        dist = _dist()
        if self.sums is None:
            raise RuntimeError("all_reduce called before any update on this rank; every rank needs one batch")
        self._flush()
        # 0. one scale for all ranks: the smallest (a power of two)
        exponent = torch.tensor([math.frexp(self.scale)[1]], dtype=F64, device=self.device)
        dist.all_reduce(exponent, op=dist.ReduceOp.MIN, group=group)
        self._rescale(2.0 ** (int(exponent) - 1))
        # 1. common shifts: per class, the average of the shifts of the ranks that have the class
        has = self.has_shift.to(F64).unsqueeze(1)
        shared = torch.cat([has, self.shifts * has], dim=1)
        dist.all_reduce(shared, op=dist.ReduceOp.SUM, group=group)
        ranks = shared[:, :1]
        common = torch.where(ranks > 0, shared[:, 1:] / ranks.clamp_min(1.0), self.shifts)
        self._rebase(common, self.has_shift)
        self.shifts = common
        self.has_shift = (ranks[:, 0] > 0)
        self._shifts_cd = None
        self._all_shifted = bool(self.has_shift.all())
        # 2. the moved statistics add up
        parts = [self.counts, self.sums.flatten(), self.squares] + ([self.moment.flatten()] if self.moment is not None else [])
        flat = torch.cat(parts)
        dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=group)
        C, p = self.num_classes, self.dim
        self.counts, flat = flat[:C].clone(), flat[C:]
        self.sums, flat = flat[: C * p].reshape(C, p).clone(), flat[C * p :]
        self.squares, flat = flat[:C].clone(), flat[C:]
        if self.moment is not None:
            self.moment = flat.reshape(p, p).clone()
        return self

    # -- results -----------------------------------------------------------------------------
    def _require_complete(self) -> None:
        if self.sums is None:
            raise RuntimeError("no data: call update(features, labels) at least once before compute()")
        empty = torch.nonzero(self.counts == 0).flatten().tolist()
        if empty:
            raise ValueError(
                f"class(es) {empty} received no samples; every class 0..{self.num_classes - 1} needs at least one"
            )

    @property
    def class_means(self) -> torch.Tensor:
        """The (C, p) class means accumulated so far (float64, CPU)."""
        self._require_complete()
        return self.means.cpu()

    def _within(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(within-class sums of squares (C,), class means (C, p)), float64 on the CPU, in units of the
        features times :attr:`scale` (1 unless the features are huge or tiny)."""
        self._flush()
        counts, sums = self.counts.cpu(), self.sums.cpu()
        within_ss = (self.squares.cpu() - sums.pow(2).sum(1) / counts).clamp_min(0.0)
        return within_ss, self.shifts.cpu() * self.scale + sums / counts.unsqueeze(1)

    def within_class_covariance(self) -> torch.Tensor:
        """``Sigma_W = (1/N) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T`` of everything accumulated.

        Formed from the shifted statistics as ``(T - sum_c u_c u_c^T / n_c) / N`` (module
        docstring); needs ``second_moment=True``.

        Returns
        -------
        torch.Tensor of shape (p, p), float64, on the CPU
        """
        return self._scaled_within_covariance() / self.scale**2

    def _scaled_within_covariance(self) -> torch.Tensor:
        self._require_complete()
        if self.moment is None:
            raise RuntimeError("Sigma_W needs the second moment: create the accumulator with second_moment=True")
        self._flush()
        counts, sums = self.counts.cpu(), self.sums.cpu()
        scatter = self.moment.cpu() - (sums / counts.unsqueeze(1)).T @ sums
        return scatter / counts.sum()

    def nc1_trace(self) -> float:
        """``Tr(Sigma_W Sigma_B^+) = sum_k v_k^T Sigma_W v_k / lambda_k``, ``C`` times NC1.

        The sum runs over the eigenpairs ``(lambda_k, v_k)`` of ``Sigma_B`` with non-negligible
        eigenvalue (at most ``C - 1``); needs ``second_moment=True``.

        Returns
        -------
        float
            NaN when the class means coincide (``Sigma_B = 0``); never negative.
        """
        _, means = self._within()
        counts = self.counts.cpu()
        mu_G = counts @ means / counts.sum()
        V, lam = between_class_eigenbasis(means - mu_G, float(means.norm(dim=1).max()))
        if V.shape[0] == 0:
            return float("nan")
        sigma_w = self._scaled_within_covariance()
        return max(float((((V @ sigma_w) * V).sum(1) / lam).sum()), 0.0)

    def compute(self, W: Optional[ArrayLike] = None, b: Optional[ArrayLike] = None,
                nc4: Optional[float] = None) -> NCMetrics:
        """The metrics of everything accumulated so far, after one pass (needs ``second_moment=True``).

        Without the second moment, take the exact second pass instead: :meth:`second_pass`.

        Parameters
        ----------
        W : array or tensor of shape (C, p), optional
            Last-layer weights, for the classifier's NC2 and NC3.
        b : array or tensor of shape (C,), optional
            Last-layer bias (with ``W``).
        nc4 : float, optional
            The mismatch rate from a second pass (:meth:`NearestCentreMismatch.rate`), reported
            as ``nc4``; ``None`` otherwise.

        Returns
        -------
        NCMetrics
            As :func:`ncedu.measure` on all the batches.
        """
        self._require_complete()
        if self.moment is None:
            raise RuntimeError(
                "this accumulator keeps no second moment (second_moment=False): NC1 needs a second pass over the "
                "same batches, acc.second_pass(W, b), then .update(h, y) for each batch and .compute()"
            )
        Wt, bt = check_classifier(W, b, self.num_classes, self.dim)
        if nc4 is not None:
            nc4 = check_real(nc4, "nc4", minimum=0.0, maximum=1.0)
        within_ss, means = self._within()
        nc1 = self.nc1_trace()
        degenerate = nc1 != nc1
        if degenerate:
            _warn_coincide()
        out = {"means": means, "within_ss": within_ss, "scale": self.scale, "nc1_trace": nc1, "nc4": nc4,
               "degenerate": degenerate}
        return _metrics_from_pass(out, self.counts.cpu(), Wt, bt)

    def second_pass(self, W: Optional[ArrayLike] = None, b: Optional[ArrayLike] = None) -> "SecondPass":
        """Start the exact second pass over the same batches: NC1 by one projection per row, NC4 with ``W``.

        Parameters
        ----------
        W : array or tensor of shape (C, p), optional
            Last-layer weights (for NC2 of the classifier, NC3 and NC4).
        b : array or tensor of shape (C,), optional
            Last-layer bias.

        Returns
        -------
        SecondPass
            Call its ``update(features, labels)`` for every batch again, then ``compute()``.
        """
        self._require_complete()
        Wt, bt = check_classifier(W, b, self.num_classes, self.dim)
        return SecondPass(self.class_means, self.counts.cpu(), Wt, bt, self.device)


def _copy(acc: NCAccumulator, device: torch.device) -> NCAccumulator:
    """A copy of an accumulator's (flushed) statistics on ``device``."""
    twin = NCAccumulator(acc.num_classes, device=device, second_moment=acc.second_moment)
    twin.counts, twin.shifts, twin.has_shift = acc.counts.to(device).clone(), acc.shifts.to(device).clone(), acc.has_shift.to(device).clone()
    twin.sums, twin.squares = acc.sums.to(device).clone(), acc.squares.to(device).clone()
    twin.moment = None if acc.moment is None else acc.moment.to(device).clone()
    twin.scale = acc.scale
    return twin


def _warn_coincide() -> None:
    warnings.warn(
        "all class means coincide up to rounding (Sigma_B = 0), so NC1 = Tr(Sigma_W Sigma_B^+)/C and the "
        "between-class quantities are undefined; reported as NaN",
        RuntimeWarning,
        stacklevel=3,
    )
