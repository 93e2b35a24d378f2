r"""Streaming neural-collapse metrics: batch by batch, across workers and ``torch.distributed`` ranks.

For features that do not fit in memory, or that come from a model batch by batch.
:class:`NCAccumulator` keeps the sufficient statistics of NC1–NC3 in float64:

* ``n_c``, the class counts (C,);
* ``m_c``, the running class means (C, p);
* ``S = sum_i (h_i - m_{y_i})(h_i - m_{y_i})^T``, the pooled within-class scatter (p, p), and its
  per-class traces ``s_c = sum_{i in c} ||h_i - m_c||^2`` (C,).

A batch (or another accumulator) is merged with the pairwise update of Chan, Golub & LeVeque (1979):
for two groups ``a`` and ``b`` of class ``c``, ``S += S_b + (n_a n_b / (n_a + n_b)) d d^T`` with
``d = m_b - m_a``. Scatter is always taken about class means, never about the origin, so there is
no cancellation even when within-class variability has collapsed by many orders of magnitude.
Memory is O(C p + p^2), whatever the number of samples.

Across ``torch.distributed`` ranks, :meth:`NCAccumulator.all_reduce` uses two sum all-reduces:
first the counts and class sums (giving the global means), then each rank's scatter re-centred at
the global means, ``S_k + sum_c n_{c,k} (m_{c,k} - m_c)(m_{c,k} - m_c)^T``, which add up exactly.

NC4 needs the final class means before it can count decisions, so it takes a second pass:
:class:`NearestCentreMismatch`. :func:`measure_model` runs both passes over a ``DataLoader``.
"""

from __future__ import annotations

import warnings
from typing import Any, Iterable, Optional, Union

import torch
from torch import nn

from ._validation import (
    check_classifier,
    check_features,
    check_labels,
    check_num_classes,
    compute_dtype,
    raise_if_not_finite,
)
from .metrics import NCMetrics, assemble_metrics, between_class_eigenbasis

__all__ = ["NCAccumulator", "NearestCentreMismatch", "measure_model", "find_classifier"]

F64 = torch.float64


def _dist():
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            "all_reduce needs an initialised torch.distributed process group "
            "(call torch.distributed.init_process_group first)"
        )
    return dist


class NCAccumulator:
    """Accumulates the sufficient statistics of NC1–NC3 over batches.

    Parameters
    ----------
    num_classes : int
        ``C``; labels must lie in ``0..C-1``.
    device : torch.device or str, optional
        Where the statistics live (default: the device of the first batch). Keeping them on the
        GPU that produces the features avoids a host transfer per batch.

    Examples
    --------
    >>> acc = NCAccumulator(num_classes=3)
    >>> for h, y in batches:                 # doctest: +SKIP
    ...     acc.update(h, y)
    >>> acc.all_reduce()                      # doctest: +SKIP  (under torch.distributed)
    >>> metrics = acc.compute(W, b)           # doctest: +SKIP
    """

    def __init__(self, num_classes: int, device: Optional[Union[str, torch.device]] = None) -> None:
        self.num_classes = check_num_classes(num_classes)
        self.device = torch.device(device) if device is not None else None
        self.counts: Optional[torch.Tensor] = None  # (C,) float64
        self.means: Optional[torch.Tensor] = None  # (C, p)
        self.scatter: Optional[torch.Tensor] = None  # (p, p)
        self.class_ss: Optional[torch.Tensor] = None  # (C,)

    # -- state -------------------------------------------------------------------------------
    @property
    def dim(self) -> Optional[int]:
        return None if self.means is None else int(self.means.shape[1])

    @property
    def num_samples(self) -> int:
        return 0 if self.counts is None else int(self.counts.sum())

    def _init_state(self, p: int, device: torch.device) -> None:
        C = self.num_classes
        self.device = self.device or device
        self.counts = torch.zeros(C, dtype=F64, device=self.device)
        self.means = torch.zeros(C, p, dtype=F64, device=self.device)
        self.scatter = torch.zeros(p, p, dtype=F64, device=self.device)
        self.class_ss = torch.zeros(C, dtype=F64, device=self.device)

    def _merge_stats(self, n_b: torch.Tensor, m_b: torch.Tensor, S_b: torch.Tensor, ss_b: torch.Tensor) -> None:
        """Chan et al.'s pairwise merge of another group's (counts, means, scatter, per-class ss)."""
        n_a, m_a = self.counts, self.means
        n = n_a + n_b
        safe_n = torch.where(n > 0, n, torch.ones_like(n))
        d = m_b - m_a
        weight = n_a * n_b / safe_n  # zero where either side is empty
        self.means = m_a + d * (n_b / safe_n).unsqueeze(1)
        self.scatter = self.scatter + S_b + (d * weight.unsqueeze(1)).T @ d
        self.class_ss = self.class_ss + ss_b + weight * d.pow(2).sum(1)
        self.counts = n

    # -- updates -----------------------------------------------------------------------------
    def update(self, features: Any, labels: Any) -> "NCAccumulator":
        """Add a batch of features (B, p) with labels (B,). Classes may be missing from a batch."""
        H = check_features(features, finite=False)  # checked through the batch sums
        y, _ = check_labels(labels, H.shape[0], self.num_classes, require_all_classes=False)
        if self.means is None:
            self._init_state(H.shape[1], H.device)
        elif H.shape[1] != self.dim:
            raise ValueError(f"features has {H.shape[1]} columns but earlier batches had {self.dim}")
        cd = compute_dtype(H)
        H = H.to(self.device, cd)
        y = y.to(self.device)
        C = self.num_classes
        n_b = torch.bincount(y, minlength=C).to(F64)
        sums = torch.zeros(C, H.shape[1], dtype=cd, device=self.device).index_add_(0, y, H)
        if not bool(torch.isfinite(sums).all()):
            raise_if_not_finite(H, "features")
        m_b = sums.to(F64) / torch.where(n_b > 0, n_b, torch.ones_like(n_b)).unsqueeze(1)
        # Scatter of the batch about its own class means (rounded to the compute dtype), in the
        # compute dtype; then corrected to the exact means: sum (r - d)(r - d)^T = R^T R - n d d^T,
        # where d = mean of r in the class = m_b - round(m_b).
        m_cd = m_b.to(cd)
        R = H - m_cd[y]
        d = m_b - m_cd.to(F64)
        S_b = (R.T @ R).to(F64) - (d * n_b.unsqueeze(1)).T @ d
        ss_b = torch.zeros(C, dtype=F64, device=self.device).index_add_(0, y, R.pow(2).sum(1).to(F64))
        ss_b = ss_b - n_b * d.pow(2).sum(1)
        self._merge_stats(n_b, m_b, S_b, ss_b)
        return self

    def merge(self, other: "NCAccumulator") -> "NCAccumulator":
        """Fold another accumulator (e.g. from another worker) into this one, in place."""
        if not isinstance(other, NCAccumulator):
            raise TypeError(f"other must be an NCAccumulator, got {type(other).__name__}")
        if other.num_classes != self.num_classes:
            raise ValueError(f"cannot merge accumulators with {other.num_classes} and {self.num_classes} classes")
        if other.means is None:
            return self
        if self.means is None:
            self._init_state(other.dim, other.means.device)
        elif other.dim != self.dim:
            raise ValueError(f"cannot merge accumulators of feature dimension {other.dim} and {self.dim}")
        dev = self.device
        self._merge_stats(
            other.counts.to(dev), other.means.to(dev), other.scatter.to(dev), other.class_ss.to(dev)
        )
        return self

    def all_reduce(self, group: Any = None) -> "NCAccumulator":
        """Combine the statistics of all ranks of a ``torch.distributed`` group, in place, on every rank.

        Every rank must have seen at least one batch (so that the feature dimension is known).
        """
        dist = _dist()
        if self.means is None:
            raise RuntimeError("all_reduce called before any update on this rank; every rank needs one batch")
        # 1. counts and class sums -> global class means
        sums = torch.cat([self.counts.unsqueeze(1), self.means * self.counts.unsqueeze(1)], dim=1)
        dist.all_reduce(sums, op=dist.ReduceOp.SUM, group=group)
        n = sums[:, 0]
        m = sums[:, 1:] / torch.where(n > 0, n, torch.ones_like(n)).unsqueeze(1)
        # 2. scatter re-centred at the global means; these add up exactly
        d = self.means - m
        local = torch.cat(
            [
                (self.scatter + (d * self.counts.unsqueeze(1)).T @ d).flatten(),
                self.class_ss + self.counts * d.pow(2).sum(1),
            ]
        )
        dist.all_reduce(local, op=dist.ReduceOp.SUM, group=group)
        p = self.dim
        self.counts, self.means = n, m
        self.scatter = local[: p * p].reshape(p, p)
        self.class_ss = local[p * p :]
        return self

    # -- results -----------------------------------------------------------------------------
    def _require_complete(self) -> None:
        if self.means is None:
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

    def nc1_trace(self) -> float:
        """``Tr(Sigma_W Sigma_B^+) = sum_k v_k^T Sigma_W v_k / lambda_k`` over the between-class eigenpairs."""
        counts, means = self.counts.cpu(), self.means.cpu()
        mu_G = counts @ means / counts.sum()
        V, lam = between_class_eigenbasis(means - mu_G)
        if V.shape[0] == 0:
            warnings.warn(
                "all class means coincide (Sigma_B = 0); NC1 is undefined and reported as NaN",
                RuntimeWarning,
                stacklevel=3,
            )
            return float("nan")
        sigma_w = self.scatter.cpu() / counts.sum()
        return float((((V @ sigma_w) * V).sum(1) / lam).sum())

    def compute(self, W: Any = None, b: Any = None, nc4: Optional[float] = None) -> NCMetrics:
        """The metrics of everything accumulated so far.

        ``nc4`` is the mismatch rate from a second pass (:class:`NearestCentreMismatch`), or ``None``.
        """
        self._require_complete()
        Wt, bt = check_classifier(W, b, self.num_classes, self.dim)
        return assemble_metrics(
            class_means=self.means.cpu(),
            counts=self.counts.cpu(),
            nc1_trace=self.nc1_trace(),
            within_ss=self.class_ss.cpu(),
            W=Wt,
            b=bt,
            nc4=nc4,
        )

    def within_class_covariance(self) -> torch.Tensor:
        """``Sigma_W`` (p, p), float64 on the CPU."""
        self._require_complete()
        return self.scatter.cpu() / self.counts.sum().cpu()


class NearestCentreMismatch:
    """Second pass for NC4: counts samples where the network and the nearest class centre disagree.

    Parameters
    ----------
    class_means : (C, p) array or tensor
        The final class means (e.g. ``NCAccumulator.class_means`` after the first pass).
    W, b : classifier weights (C, p) and bias (C,) (bias optional).
    """

    def __init__(self, class_means: Any, W: Any, b: Any = None) -> None:
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

    def update(self, features: Any) -> "NearestCentreMismatch":
        """Count the mismatches of a batch of features (B, p)."""
        H = check_features(features)
        if H.shape[1] != self.means.shape[1]:
            raise ValueError(f"features has {H.shape[1]} columns, class_means has {self.means.shape[1]}")
        dev = H.device
        H = H.to(F64)
        means = self.means.to(dev)
        logits = H @ self.W.to(dev).T
        if self.b is not None:
            logits = logits + self.b.to(dev)
        # ||h - mu_c||^2 ranks like ||mu_c||^2 - 2 h . mu_c; shift by a mean to keep the terms small
        shift = means.mean(0)
        Mc = means - shift
        ncc = torch.argmin(Mc.pow(2).sum(1) - 2.0 * (H - shift) @ Mc.T, dim=1)
        self.mismatches += int((logits.argmax(1) != ncc).sum())
        self.total += H.shape[0]
        return self

    def all_reduce(self, group: Any = None) -> "NearestCentreMismatch":
        """Sum the counts of all ``torch.distributed`` ranks, in place."""
        dist = _dist()
        t = torch.tensor([self.mismatches, self.total], dtype=torch.int64)
        if dist.get_backend(group) == "nccl":
            t = t.cuda()
        dist.all_reduce(t, op=dist.ReduceOp.SUM, group=group)
        self.mismatches, self.total = int(t[0]), int(t[1])
        return self

    def rate(self) -> float:
        """The NC4 mismatch rate: mismatches / samples."""
        if self.total == 0:
            raise RuntimeError("no data: call update(features) before rate()")
        return self.mismatches / self.total


# ----------------------------------------------------------------------------------------------
# Measuring a model over a DataLoader
# ----------------------------------------------------------------------------------------------


def find_classifier(model: nn.Module) -> nn.Linear:
    """The model's last-layer classifier: its ``classifier`` attribute if that is an ``nn.Linear``,
    otherwise the last ``nn.Linear`` registered in the model."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    head = getattr(model, "classifier", None)
    if isinstance(head, nn.Linear):
        return head
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("model has no nn.Linear layer; pass classifier=<the last-layer nn.Linear>")
    return linears[-1]


def _resolve_module(model: nn.Module, module: Union[str, nn.Module], name: str) -> nn.Module:
    if isinstance(module, nn.Module):
        if not any(m is module for m in model.modules()):
            raise ValueError(f"{name} is not a submodule of model")
        return module
    if isinstance(module, str):
        try:
            return model.get_submodule(module)
        except AttributeError:
            raise ValueError(f"{name}={module!r} is not a submodule name of model") from None
    raise TypeError(f"{name} must be an nn.Module or a submodule name, got {type(module).__name__}")


def _split_batch(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    if isinstance(batch, dict) and {"input", "label"} <= batch.keys():
        return batch["input"], batch["label"]
    raise ValueError("each batch of loader must be (inputs, labels, ...) or a dict with 'input' and 'label'")


def _features_pass(model: nn.Module, loader: Iterable, device: torch.device, hook_on: nn.Module, on_input: bool):
    """Yield (features, labels) for each batch, capturing the hooked layer's input or output."""
    captured: dict[str, torch.Tensor] = {}

    if on_input:
        handle = hook_on.register_forward_pre_hook(lambda m, args: captured.__setitem__("h", args[0]))
    else:
        handle = hook_on.register_forward_hook(lambda m, args, out: captured.__setitem__("h", out))
    try:
        for batch in loader:
            x, y = _split_batch(batch)
            captured.clear()
            model(x.to(device) if isinstance(x, torch.Tensor) else x)
            if "h" not in captured:
                raise RuntimeError("the hooked layer did not run during the forward pass; name another feature_layer")
            h = captured["h"]
            yield h.reshape(h.shape[0], -1), torch.as_tensor(y)
    finally:
        handle.remove()


@torch.no_grad()
def measure_model(
    model: nn.Module,
    loader: Iterable,
    *,
    classifier: Optional[Union[str, nn.Linear]] = None,
    feature_layer: Optional[Union[str, nn.Module]] = None,
    num_classes: Optional[int] = None,
    device: Optional[Union[str, torch.device]] = None,
    nc4: bool = True,
    distributed: Optional[bool] = None,
) -> NCMetrics:
    """Measure NC1–NC4 of a torch model's penultimate features over a data loader.

    Features are taken with a hook: by default the *input* of the classifier (the last
    ``nn.Linear``, or ``model.classifier``); with ``feature_layer`` the *output* of that module,
    flattened. ``W`` and ``b`` are the classifier's weight and bias. NC1–NC3 need one pass over
    ``loader``; NC4 a second (set ``nc4=False`` to skip it). The model is put in eval mode for the
    passes and restored afterwards.

    Parameters
    ----------
    model : torch.nn.Module
    loader : iterable of (inputs, labels, ...) batches, e.g. a ``torch.utils.data.DataLoader``
    classifier : nn.Linear or submodule name, optional
    feature_layer : nn.Module or submodule name, optional
    num_classes : int, optional (default: ``classifier.out_features``)
    device : where to run the model (default: the device of its first parameter)
    nc4 : bool, run the second pass for NC4 (default True)
    distributed : bool, all-reduce across ``torch.distributed`` ranks (default: when initialised)
    """
    head = find_classifier(model) if classifier is None else _resolve_module(model, classifier, "classifier")
    if not isinstance(head, nn.Linear):
        raise TypeError(f"classifier must be an nn.Linear, got {type(head).__name__}")
    C = head.out_features if num_classes is None else check_num_classes(num_classes)
    if device is None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
    device = torch.device(device)
    if distributed is None:
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    hook_on, on_input = (head, True) if feature_layer is None else (_resolve_module(model, feature_layer, "feature_layer"), False)

    was_training = model.training
    model.eval()
    try:
        acc = NCAccumulator(C)
        for h, y in _features_pass(model, loader, device, hook_on, on_input):
            acc.update(h, y)
        if acc.means is None:
            raise ValueError("loader yielded no batches")
        if distributed:
            acc.all_reduce()
        W = head.weight.detach()
        b = head.bias.detach() if head.bias is not None else None
        if W.shape[1] != acc.dim:
            raise ValueError(
                f"the features have {acc.dim} dimensions but the classifier expects {W.shape[1]}; "
                "name the layer whose output feeds the classifier as feature_layer"
            )
        rate = None
        if nc4:
            counter = NearestCentreMismatch(acc.class_means, W, b)
            for h, _ in _features_pass(model, loader, device, hook_on, on_input):
                counter.update(h)
            if distributed:
                counter.all_reduce()
            rate = counter.rate()
        return acc.compute(W, b, nc4=rate)
    finally:
        model.train(was_training)
