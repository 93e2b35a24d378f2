"""The second passes of the streaming path: :class:`SecondPass` (exact NC1, and NC4) and :class:`NearestCentreMismatch`.

Both take the batches of a first pass (:class:`ncedu.NCAccumulator`) again, once its class means
are final; both are re-exported by :mod:`ncedu.streaming`, where the module docstring explains
the two ways of measuring batch by batch. Kept apart so that each module stays small.
"""

from __future__ import annotations

from typing import Any, Optional

import torch

from ._passes import ResidualProjections
from ._validation import ArrayLike, check_classifier, check_features, check_labels, compute_dtype
from .metrics import NCMetrics, _metrics_from_pass, nearest_centre

__all__ = ["SecondPass", "NearestCentreMismatch"]

F64 = torch.float64


def _dist():
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            "all_reduce needs an initialised torch.distributed process group "
            "(call torch.distributed.init_process_group first)"
        )
    return dist


class SecondPass:
    """The exact second pass of the streaming path (see the module docstring), from :meth:`NCAccumulator.second_pass`.

    Takes every batch of the first pass again (any order, any batching), projects each residual
    once and gives :meth:`compute` the exact NC1–NC4, as :func:`ncedu.measure` would on all the data:
    ``Tr(Sigma_W Sigma_B^+) = (1/N) sum_i ||Lambda^{-1/2} V (h_i - mu_{y_i})||^2`` with the
    eigenpairs ``(Lambda, V)`` of ``Sigma_B`` from the first pass's means, and NC4 from the same
    products. Made by :meth:`NCAccumulator.second_pass`, which checks its arguments.

    Parameters
    ----------
    means : torch.Tensor of shape (C, p)
        The first pass's class means (float64).
    counts : torch.Tensor of shape (C,)
        The first pass's class counts.
    W : torch.Tensor of shape (C, p) or None
        Last-layer weights (checked), or None for the feature metrics only.
    b : torch.Tensor of shape (C,) or None
        Last-layer bias.
    device : torch.device or None
        Where the pass runs (default: the device of its first batch).

    Attributes
    ----------
    num_classes : int
        ``C``.
    dim : int
        ``p``.
    device : torch.device or None
        As given.

    Examples
    --------
    >>> import numpy as np
    >>> from ncedu import NCAccumulator, measure
    >>> rng = np.random.default_rng(2)
    >>> y = np.arange(120) % 3
    >>> H, W = rng.standard_normal((120, 4)) + 4 * np.eye(3, 4)[y], np.eye(3, 4)
    >>> first = NCAccumulator(3, second_moment=False)
    >>> for rows in np.array_split(np.arange(120), 4):
    ...     _ = first.update(H[rows], y[rows])
    >>> second = first.second_pass(W)
    >>> for rows in np.array_split(np.arange(120)[::-1], 3):   # any order, any batching
    ...     _ = second.update(H[rows], y[rows])
    >>> m, exact = second.compute(), measure(H, y, W)
    >>> bool(np.isclose(m.nc1, exact.nc1)), m.nc4 == exact.nc4
    (True, True)
    """

    def __init__(self, means: torch.Tensor, counts: torch.Tensor, W: Optional[torch.Tensor],
                 b: Optional[torch.Tensor], device: Optional[torch.device]) -> None:
        self._means, self._counts = means, counts
        self._W = None if W is None else W.to("cpu", F64)
        self._b = None if b is None else b.to("cpu", F64)
        self._Wt, self._bt = W, b
        self.device = device
        self._pass: Optional[ResidualProjections] = None
        self.num_classes, self.dim = means.shape

    def update(self, features: ArrayLike, labels: ArrayLike) -> "SecondPass":
        """Add a batch of features with their labels, as in the first pass.

        NaN or infinite values are not looked for batch by batch (that would cost a pass over
        every batch); they reach the pass's sums, and :meth:`compute` refuses them.

        Parameters
        ----------
        features : array or tensor of shape (B, p)
            The batch's features.
        labels : array or tensor of shape (B,)
            Their class indices in ``0..C-1``.

        Returns
        -------
        SecondPass
            ``self``.
        """
        H = check_features(features, finite=False)
        y, _ = check_labels(labels, H.shape[0], self.num_classes, require_all_classes=False)
        if H.shape[1] != self.dim:
            raise ValueError(f"features has {H.shape[1]} columns but the first pass had {self.dim}")
        cd = compute_dtype(H)
        if self._pass is None:
            device = self.device or H.device
            self._pass = ResidualProjections(self._means, self._counts, self._W, self._b, device, cd, means_exact=True)
        proj = self._pass
        proj.update(H.to(proj.device, proj.dtype), y.to(proj.device))
        return self

    def all_reduce(self, group: Any = None) -> "SecondPass":
        """Sum the second-pass statistics of all ``torch.distributed`` ranks, in place.

        Parameters
        ----------
        group : torch.distributed.ProcessGroup, optional
            The ranks to combine (default: the world).

        Returns
        -------
        SecondPass
            ``self``.
        """
        dist = _dist()
        if self._pass is None:
            raise RuntimeError("all_reduce called before any update of the second pass on this rank")
        proj = self._pass
        proj._flush()
        counters = torch.tensor([float(proj.seen), float(proj._mismatches)], dtype=F64, device=proj.device)
        flat = torch.cat([t.flatten() for t in proj._totals.values()] + [counters])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=group)
        offset = 0
        for name, t in proj._totals.items():
            t.copy_(flat[offset: offset + t.numel()].reshape(t.shape))
            offset += t.numel()
        proj.seen = int(flat[offset])
        proj._mismatches.fill_(int(flat[offset + 1]))
        return self

    def compute(self) -> NCMetrics:
        """NC1–NC4 of all the data (NC4 when the first pass's ``second_pass`` was given ``W``).

        Returns
        -------
        NCMetrics
            As :func:`ncedu.measure` on all the batches.
        """
        if self._pass is None:
            raise RuntimeError("no data: call update(features, labels) for every batch before compute()")
        return _metrics_from_pass(self._pass.results(), self._counts, self._Wt, self._bt)


class NearestCentreMismatch:
    """Second pass for NC4: counts samples where the network and the nearest class centre disagree.

    NC4 is the fraction of samples with ``argmax_c (w_c . h + b_c) != argmin_c ||h - mu_c||``
    (Papyan, Han & Donoho 2020, Fig. 7), the nearest centre found by :func:`ncedu.nearest_centre`.
    Pair it with a one-pass :class:`NCAccumulator`: its final class means, then
    ``acc.compute(W, b, nc4=mismatch.rate())``.

    Parameters
    ----------
    class_means : array or tensor of shape (C, p)
        The final class means (e.g. ``NCAccumulator.class_means`` after the first pass).
    W : array or tensor of shape (C, p)
        Last-layer weights.
    b : array or tensor of shape (C,), optional
        Last-layer bias (zero if omitted).

    Attributes
    ----------
    mismatches : int
        Samples counted as mismatched.
    total : int
        All samples counted.

    Examples
    --------
    >>> import numpy as np
    >>> means = np.array([[0.0, 0.0], [4.0, 0.0]])
    >>> W, b = np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([1.0, 0.0])   # decides class 1 for h_0 > 1
    >>> mismatch = NearestCentreMismatch(means, W, b)
    >>> _ = mismatch.update(np.array([[0.5, 0.0], [1.5, 0.0], [3.0, 0.0]]))  # only 1.5 disagrees
    >>> mismatch.mismatches, mismatch.total, round(mismatch.rate(), 4)
    (1, 3, 0.3333)
    """

    def __init__(self, class_means: ArrayLike, W: ArrayLike, b: Optional[ArrayLike] = None) -> None:
        means = check_features(class_means, "class_means")
        C, p = means.shape
        Wt, bt = check_classifier(W, b, C, p)
        if Wt is None:
            raise ValueError("W is required for NC4: the network decision is argmax_c (w_c . h + b_c)")
        self.means = means.to(F64)
        self.W = Wt.to(F64)
        self.b = None if bt is None else bt.to(F64)
        self.mismatches = 0
        self.total = 0

    def update(self, features: ArrayLike) -> "NearestCentreMismatch":
        """Count the mismatches of a batch of features.

        Parameters
        ----------
        features : array or tensor of shape (B, p)
            The batch's features (labels are not needed: NC4 compares two decisions).

        Returns
        -------
        NearestCentreMismatch
            ``self``.
        """
        H = check_features(features)
        if H.shape[1] != self.means.shape[1]:
            raise ValueError(f"features has {H.shape[1]} columns, class_means has {self.means.shape[1]}")
        dev = H.device
        logits = H.to(F64) @ self.W.to(dev).T
        if self.b is not None:
            logits = logits + self.b.to(dev)
        ncc = torch.from_numpy(nearest_centre(H, self.means)).to(dev)
        self.mismatches += int((logits.argmax(1) != ncc).sum())
        self.total += H.shape[0]
        return self

    def all_reduce(self, group: Any = None) -> "NearestCentreMismatch":
        """Sum the counts of all ``torch.distributed`` ranks, in place.

        Parameters
        ----------
        group : torch.distributed.ProcessGroup, optional
            The ranks to combine (default: the world).

        Returns
        -------
        NearestCentreMismatch
            ``self``.
        """
        dist = _dist()
        t = torch.tensor([self.mismatches, self.total], dtype=torch.int64)
        if dist.get_backend(group) == "nccl":
            t = t.cuda()
        dist.all_reduce(t, op=dist.ReduceOp.SUM, group=group)
        self.mismatches, self.total = int(t[0]), int(t[1])
        return self

    def rate(self) -> float:
        """The NC4 mismatch rate: ``mismatches / total``.

        Returns
        -------
        float
            In ``[0, 1]``; a ``RuntimeError`` before the first batch.
        """
        if self.total == 0:
            raise RuntimeError("no data: call update(features) before rate()")
        return self.mismatches / self.total
