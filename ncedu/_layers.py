r"""The machinery of measuring several layers at once: hooks on named modules, and two passes per layer.

:func:`ncedu.measure_layers` and :func:`ncedu.train` (``record_layers=``) stand on this module:

* :func:`resolve_layers` turns the names a user gives into the model's modules, with an error
  that lists the model's module names when one does not exist;
* :class:`LayerTaps` holds forward hooks on those modules and checks, after each forward pass,
  that every layer ran exactly once and returned features of shape (N, ...) (flattened per sample
  to (N, p));
* :class:`LayerPasses` keeps one :class:`ncedu.NCAccumulator` (``second_moment=False``) per layer for
  the first pass and its :meth:`~ncedu.NCAccumulator.second_pass` for the second: the exact two
  passes of :mod:`ncedu.streaming`, so each layer gets the metrics :func:`ncedu.measure` would give
  on its features;
* :class:`FuzzinessPass` adds, in the same second pass, He & Su's separation fuzziness.

**Separation fuzziness** (He & Su, "A law of data separation in deep learning", PNAS 120(36),
2023): with the between-class and within-class sums of squares

.. math::

    SS_b = \frac{1}{N}\sum_c n_c (\mu_c - \mu_G)(\mu_c - \mu_G)^\top, \qquad
    SS_w = \frac{1}{N}\sum_i (h_i - \mu_{y_i})(h_i - \mu_{y_i})^\top = \Sigma_W,

the fuzziness is :math:`D = \operatorname{Tr}(SS_w SS_b^{+})`; their law of data separation is that
:math:`\log D` falls roughly linearly with depth in a well-trained network. He & Su weight the class
means by the class sizes; the paper's :math:`\Sigma_B` gives every class the weight :math:`1/C`. For
balanced classes the two coincide, :math:`SS_b = \Sigma_B`, and :math:`D = C \cdot \mathrm{NC1}`;
otherwise :math:`D` is computed here as He & Su define it. Both matrices have the span of the centred
means as their range, so with ``V`` an orthonormal basis of that span (k <= C - 1 rows)
:math:`D = \operatorname{Tr}\big((V \Sigma_W V^\top)(V SS_b V^\top)^{-1}\big)`, and the second pass only
needs the k x k Gram matrix of the projected residuals ``V (h_i - mu_{y_i})``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import torch
from torch import nn

from ._passes import _power_of_two_scale, apply_scale, between_class_eigenbasis
from ._validation import compute_dtype
from .metrics import NCMetrics
from .streaming import NCAccumulator, SecondPass

__all__ = ["LayerMetrics", "module_names", "resolve_layers", "LayerTaps", "LayerPasses", "FuzzinessPass"]

F64 = torch.float64
#: At most this many module names are listed in an error message.
_NAMES_SHOWN = 120


@dataclass(frozen=True, eq=False)
class LayerMetrics(NCMetrics):
    """The metrics of one layer's features: an :class:`ncedu.NCMetrics` and He & Su's separation fuzziness.

    For a hidden layer (one whose output is not the classifier's input) there is no classifier to
    compare with: ``nc2_*_classifiers``, ``nc3`` and ``nc4`` are ``None``, and ``nc1``, the
    ``nc2_*_means``, ``nc1_trace_ratio`` and ``cdnv`` are measured. For the layer that feeds the
    classifier every field is measured, with the classifier's ``W`` and ``b``.

    Attributes
    ----------
    nc1, nc2_equinorm_means, nc2_equiangular_means, nc2_maxangle_means, nc1_trace_ratio, cdnv : float
        As :class:`ncedu.NCMetrics`, of the layer's features.
    nc2_equinorm_classifiers, nc2_equiangular_classifiers, nc2_maxangle_classifiers, nc3, nc4 : float or None
        As :class:`ncedu.NCMetrics` for the layer that feeds the classifier; ``None`` for the others.
    class_means, global_mean, class_counts : numpy.ndarray
        The layer's class means (C, p), sample mean (p,) and the class sizes (C,).
    fuzziness : float
        He & Su's separation fuzziness ``D = Tr(SS_w SS_b^+)`` (module docstring), which equals
        ``C * nc1`` when the classes are balanced; NaN when the class means coincide.

    Examples
    --------
    >>> import numpy as np
    >>> from ncedu import measure_layers
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    >>> x, y = torch.randn(40, 3), torch.arange(40) % 2
    >>> m = measure_layers(net, [(x, y)], ["1"], classifier=False, num_classes=2)["1"]
    >>> bool(np.isclose(m.fuzziness, 2 * m.nc1)), m.nc4 is None   # balanced classes: D = C * NC1
    (True, True)
    """

    fuzziness: float = math.nan


def module_names(model: nn.Module, kind: Union[type, tuple[type, ...], None] = None) -> list[str]:
    """The names of ``model``'s submodules, in the order ``model.named_modules()`` gives them.

    The model itself (the name ``""``) is left out. With ``kind`` (a module class or a tuple of
    them) only the modules that are instances of it are listed: ``module_names(mlp, nn.ReLU)``
    names the output of every hidden layer of an :class:`ncedu.models.MLP`.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    kind : type or tuple of types, optional
        Keep only the modules of this class (or these classes).

    Returns
    -------
    list of str
        Names as :func:`ncedu.measure_layers` and ``train(..., record_layers=...)`` take them.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> module_names(net), module_names(net, nn.ReLU)
    (['0', '1', '2'], ['1'])
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if kind is not None and not (isinstance(kind, type) or
                                 (isinstance(kind, tuple) and all(isinstance(k, type) for k in kind))):
        raise TypeError(f"kind must be a module class such as torch.nn.ReLU (or a tuple of them), got {kind!r}")
    return [name for name, m in model.named_modules() if name and (kind is None or isinstance(m, kind))]


def _listed(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    return shown + (f", ... ({more} more)" if more > 0 else "")


def resolve_layers(model: nn.Module, layers: Any, name: str = "layers") -> list[tuple[str, nn.Module]]:
    """``(name, module)`` for each layer named in ``layers`` (module names or the modules themselves).

    A single name is taken as a list of one. Errors name the argument ``name``: a ``TypeError`` for
    anything but names or modules, a ``ValueError`` for an empty list, a repeated layer, a module
    that is not part of ``model``, or a name that is not one of its modules (the message lists the
    model's module names).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(layers, (str, nn.Module)):
        layers = [layers]
    if not isinstance(layers, Sequence) and not isinstance(layers, (set, frozenset)):
        try:
            layers = list(layers)
        except TypeError:
            raise TypeError(f"{name} must be a list of module names such as ['body.2', 'body.5'], "
                            f"got {type(layers).__name__}") from None
    if isinstance(layers, (set, frozenset)):
        raise TypeError(f"{name} must be an ordered list of module names (a set has no order), got a set")
    if len(layers) == 0:
        raise ValueError(f"{name} must name at least one module of the model, got an empty list")
    named = dict(model.named_modules())
    by_identity = {id(m): n for n, m in model.named_modules()}
    out: list[tuple[str, nn.Module]] = []
    unknown: list[str] = []
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.Module):
            if id(layer) not in by_identity:
                raise ValueError(f"{name}[{i}] is a {type(layer).__name__} that is not a submodule of model")
            out.append((by_identity[id(layer)], layer))
        elif isinstance(layer, str):
            if layer in named:
                out.append((layer, named[layer]))
            else:
                unknown.append(layer)
        else:
            raise TypeError(f"{name} must hold module names (str) or modules, got {type(layer).__name__} "
                            f"{layer!r} at position {i}")
    if unknown:
        which = ", ".join(repr(u) for u in unknown)
        raise ValueError(
            f"{name}: {which} {'is not a module name' if len(unknown) == 1 else 'are not module names'} of the "
            f"{type(model).__name__}; its modules are {_listed(module_names(model))}"
        )
    seen: set[str] = set()
    for layer_name, _ in out:
        if layer_name in seen:
            raise ValueError(f"{name} names the layer {layer_name!r} twice; name each layer once")
        seen.add(layer_name)
    return out


class LayerTaps:
    """Forward hooks that keep the outputs of named modules (and the classifier's input) of a forward pass.

    Use as a context manager (the hooks are removed on exit); call :meth:`clear` before each forward
    pass and :meth:`take` after it.
    """

    def __init__(self, layers: list[tuple[str, nn.Module]], head: Optional[nn.Module] = None,
                 name: str = "layers") -> None:
        self.layers, self.head, self.name = layers, head, name
        self._outputs: dict[str, list[Any]] = {}
        self._head_inputs: list[Any] = []
        self._handles: list[Any] = []

    def __enter__(self) -> "LayerTaps":
        for layer_name, module in self.layers:
            self._handles.append(module.register_forward_hook(
                lambda m, args, out, key=layer_name: self._outputs.setdefault(key, []).append(out)))
        if self.head is not None:
            self._handles.append(self.head.register_forward_pre_hook(
                lambda m, args: self._head_inputs.append(args[0] if args else None)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self.clear()

    def clear(self) -> None:
        self._outputs.clear()
        self._head_inputs.clear()

    def head_input(self, batch_size: int) -> Optional[torch.Tensor]:
        """The classifier's input of the last forward pass as (B, p), or None if it did not run exactly once."""
        if len(self._head_inputs) != 1 or not isinstance(self._head_inputs[0], torch.Tensor):
            return None
        h = self._head_inputs[0]
        return h.detach().reshape(batch_size, -1) if h.ndim >= 1 and h.shape[0] == batch_size else None

    def take(self, batch_size: int) -> dict[str, torch.Tensor]:
        """Each layer's output of the last forward pass, checked and flattened to (B, p)."""
        out = {}
        for layer_name, _ in self.layers:
            got = self._outputs.get(layer_name, [])
            if not got:
                raise ValueError(f"{self.name}: the layer {layer_name!r} did not run during the forward pass of the "
                                 "model; name a module that the model's forward calls")
            if len(got) > 1:
                raise ValueError(
                    f"{self.name}: the layer {layer_name!r} ran {len(got)} times in one forward pass (one module used at "
                    "several places, such as a shared ReLU), so its output is not the features of one layer; name a "
                    "module that runs once per forward pass"
                )
            h = got[0]
            if not isinstance(h, torch.Tensor):
                raise TypeError(f"{self.name}: the layer {layer_name!r} returns a {type(h).__name__}, not a tensor of "
                                "features of shape (N, ...); name a module that returns one tensor")
            if h.ndim == 0 or h.shape[0] != batch_size:
                raise ValueError(
                    f"{self.name}: the layer {layer_name!r} returns shape {tuple(h.shape)} for a batch of {batch_size} "
                    f"samples; a layer's output must be features of shape (N, ...) with the batch first (N = "
                    f"{batch_size})"
                )
            if not h.is_floating_point():
                raise TypeError(f"{self.name}: the layer {layer_name!r} returns {h.dtype} values; features must be "
                                "floating point")
            out[layer_name] = h.detach().reshape(batch_size, -1)
        return out


def _same_features(h: torch.Tensor, head_in: Optional[torch.Tensor]) -> bool:
    """Whether a layer's flattened output is (value for value) the classifier's flattened input."""
    if head_in is None or h.shape != head_in.shape:
        return False
    return h is head_in or bool(torch.equal(h, head_in.to(h.device)))


class FuzzinessPass:
    """Second-pass sums for He & Su's separation fuzziness ``D = Tr(SS_w SS_b^+)`` (module docstring).

    ``means`` are the exact class means of the first pass (float64, CPU) and ``counts`` the class
    sizes; each batch's residuals about the means are projected once on the k <= C - 1 directions
    of the centred means and their k x k Gram matrix is summed in float64.
    """

    def __init__(self, means: torch.Tensor, counts: torch.Tensor, device: torch.device, dtype: torch.dtype) -> None:
        self.counts = counts.to("cpu", F64)
        N = float(self.counts.sum())
        M = means - self.counts @ means / N
        # features so large or so small that their squares leave the dtype's range are rescaled by a
        # power of two (D is invariant to the scale of the features)
        self.scale = s = _power_of_two_scale(max(float(M.abs().max()), 0.0), dtype)
        self.V, _ = between_class_eigenbasis(M * s, float((means * s).norm(dim=1).max()), eps=torch.finfo(dtype).eps)
        self.k = k = self.V.shape[0]
        self.centred = M * s  # (C, p) float64, in the pass's units
        self.centres = (means * s).to(device, dtype)
        self.P = self.V.T.to(device, dtype)
        self.device, self.dtype = device, dtype
        self.gram = torch.zeros(k, k, dtype=F64, device=device)
        self.sums = torch.zeros(means.shape[0], k, dtype=F64, device=device)
        self.seen = 0

    def update(self, H: torch.Tensor, y: torch.Tensor) -> None:
        """Add a batch of features (B, p) with labels (B,)."""
        H, y = H.to(self.device, self.dtype), y.to(self.device)
        Z = ((apply_scale(H, self.scale) - self.centres[y]) @ self.P).to(F64)  # (B, k)
        self.gram += Z.T @ Z
        self.sums.index_add_(0, y, Z)
        self.seen += H.shape[0]

    def all_reduce(self, group: Any = None) -> None:
        """Sum the pass's statistics over the ranks of a ``torch.distributed`` group, in place."""
        import torch.distributed as dist

        flat = torch.cat([self.gram.flatten(), self.sums.flatten(),
                          torch.tensor([float(self.seen)], dtype=F64, device=self.device)])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=group)
        k, C = self.k, self.sums.shape[0]
        self.gram = flat[: k * k].reshape(k, k).clone()
        self.sums = flat[k * k: k * k + C * k].reshape(C, k).clone()
        self.seen = int(flat[-1])

    def value(self) -> float:
        """``D``, or NaN when the class means coincide (no between-class direction)."""
        if self.k == 0:
            return math.nan
        counts = self.counts
        N = float(counts.sum())
        gram, sums = self.gram.cpu(), self.sums.cpu()
        zbar = sums / counts.unsqueeze(1)
        within = (gram - (zbar * counts.unsqueeze(1)).T @ zbar) / N  # V Sigma_W V^T
        Mv = self.centred @ self.V.T  # (C, k)
        between = (Mv * (counts / N).unsqueeze(1)).T @ Mv  # V SS_b V^T
        lam, Q = torch.linalg.eigh(between)
        keep = lam > lam.max() * self.k * torch.finfo(F64).eps
        inverse = (Q[:, keep] / lam[keep]) @ Q[:, keep].T
        return max(float((within * inverse).sum()), 0.0)


class LayerPasses:
    """The two streaming passes of every named layer: an accumulator each, then its exact second pass.

    ``head`` is the classifier (or None): a layer whose output equals the classifier's input on every
    batch of the first pass is measured with the classifier's ``W`` and ``b`` (NC3, NC4 and the NC2
    of the classifier rows); every other layer without.
    """

    def __init__(self, names: list[str], num_classes: int, head: Optional[nn.Linear] = None) -> None:
        self.names, self.num_classes, self.head = names, num_classes, head
        self.accumulators = {n: NCAccumulator(num_classes, second_moment=False) for n in names}
        self.feeds_head = {n: head is not None for n in names}
        self._second: dict[str, SecondPass] = {}
        self._fuzziness: dict[str, Optional[FuzzinessPass]] = {}

    def first(self, features: dict[str, torch.Tensor], labels: torch.Tensor,
              head_input: Optional[torch.Tensor] = None) -> None:
        """Add one batch of every layer's features (B, p) with its labels to the first pass."""
        for n in self.names:
            h = features[n]
            self.accumulators[n].update(h, labels)
            if self.feeds_head[n]:
                self.feeds_head[n] = _same_features(h, head_input)

    def all_reduce_first(self, group: Any = None) -> None:
        import torch.distributed as dist

        for n in self.names:
            self.accumulators[n].all_reduce(group)
        device = next(iter(self.accumulators.values())).device
        flags = torch.tensor([float(self.feeds_head[n]) for n in self.names], dtype=F64, device=device)
        dist.all_reduce(flags, op=dist.ReduceOp.MIN, group=group)
        self.feeds_head = {n: bool(f > 0.5) for n, f in zip(self.names, flags.tolist())}

    def begin_second(self) -> None:
        """Start the second pass of every layer (after the whole first pass)."""
        for n in self.names:
            acc = self.accumulators[n]
            if acc.sums is None:
                raise ValueError("loader yielded no batches")
            W = b = None
            if self.feeds_head[n] and self.head is not None:
                W = self.head.weight.detach()
                b = None if self.head.bias is None else self.head.bias.detach()
            self._second[n] = acc.second_pass(W, b)
            self._fuzziness[n] = None  # made with the first batch of the second pass (its dtype)

    def second(self, features: dict[str, torch.Tensor], labels: torch.Tensor) -> None:
        """Add one batch of every layer's features to the second pass (the same batches as the first)."""
        for n in self.names:
            h = features[n]
            self._second[n].update(h, labels)
            if self._fuzziness[n] is None:
                acc = self.accumulators[n]
                self._fuzziness[n] = FuzzinessPass(acc.class_means, acc.counts.cpu(), acc.device, compute_dtype(h))
            self._fuzziness[n].update(h, labels)

    def all_reduce_second(self, group: Any = None) -> None:
        for n in self.names:
            self._second[n].all_reduce(group)
            self._fuzziness[n].all_reduce(group)

    def results(self) -> dict[str, LayerMetrics]:
        """``{name: LayerMetrics}`` in the order of the names."""
        out = {}
        for n in self.names:
            m = self._second[n].compute()
            fields = {f.name: getattr(m, f.name) for f in dataclasses.fields(NCMetrics)}
            out[n] = LayerMetrics(**fields, fuzziness=self._fuzziness[n].value())
        return out
