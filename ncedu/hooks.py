"""Measuring a torch model: its penultimate features by a hook, over a data loader, in two passes.

:func:`measure_model` runs the streaming passes of :mod:`ncedu.streaming` on the features that a
forward hook captures, batch by batch; :func:`measure_layers` does the same at the output of several
named layers at once (one accumulator per layer, NC3 and NC4 only for the layer that feeds the
classifier), and :func:`module_names` lists the names to choose from; :func:`find_classifier` finds
the last-layer ``nn.Linear`` by what produces the model's output.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence, Union

import torch
from torch import nn

from ._layers import LayerMetrics, LayerPasses, LayerTaps, module_names, resolve_layers
from ._validation import check_num_classes
from .metrics import NCMetrics
from .streaming import NCAccumulator

__all__ = ["measure_model", "measure_layers", "LayerMetrics", "module_names", "find_classifier"]


def find_classifier(model: nn.Module, example: Any = None) -> nn.Linear:
    """The model's last-layer classifier: the ``nn.Linear`` whose output the model returns.

    In this order: the model's ``classifier`` attribute if it is an ``nn.Linear``; the only
    ``nn.Linear`` of the model; with an ``example`` input, the ``nn.Linear`` whose output *is* the
    tensor that ``model(example)`` returns (found with forward hooks, in eval mode, without
    gradients). Anything else is ambiguous (an auxiliary head registered after the classifier,
    say) and raises an error that asks for ``classifier=``.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    example : optional
        An input batch for ``model``, needed only when the model has several ``nn.Linear`` layers
        and no ``classifier`` attribute.

    Returns
    -------
    torch.nn.Linear
        The layer whose weight and bias are ``W`` and ``b``.

    Raises
    ------
    ValueError
        If no ``nn.Linear`` qualifies, or several do.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> find_classifier(net, torch.zeros(2, 4)) is net[2]
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    head = getattr(model, "classifier", None)
    if isinstance(head, nn.Linear):
        return head
    linears = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("model has no nn.Linear layer; pass classifier=<the last-layer nn.Linear>")
    if len(linears) == 1:
        return linears[0][1]
    if example is not None:
        outputs: dict[int, torch.Tensor] = {}
        handles = [m.register_forward_hook(lambda mod, args, out, key=i: outputs.__setitem__(key, out))
                   for i, (_, m) in enumerate(linears)]
        was_training = model.training
        try:
            model.eval()
            with torch.no_grad():
                returned = model(example)
        finally:
            model.train(was_training)
            for handle in handles:
                handle.remove()
        found = [linears[i] for i, out in outputs.items() if out is returned]
        if len(found) == 1:
            return found[0][1]
    names = ", ".join(repr(name) for name, _ in linears)
    raise ValueError(
        f"cannot tell which nn.Linear is the classifier: the model has several ({names})"
        + ("" if example is None else " and none of them produces the output of forward directly")
        + "; pass classifier=<its name or module>, or give the model a `classifier` attribute"
    )


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
        The network; left in the training mode it was in.
    loader : iterable of (inputs, labels, ...) batches
        E.g. a ``torch.utils.data.DataLoader``, or a dict per batch with ``"input"`` and ``"label"``;
        read twice (once with ``nc4=False``), so it must be re-iterable.
    classifier : torch.nn.Linear or str, optional
        The last-layer classifier or its submodule name (default: :func:`~ncedu.hooks.find_classifier`).
    feature_layer : torch.nn.Module or str, optional
        Take the features from this module's output instead of the classifier's input.
    num_classes : int, optional
        ``C`` (default: ``classifier.out_features``).
    device : str or torch.device, optional
        Where to run the model (default: the device of its first parameter).
    nc4 : bool, default True
        Run the second pass: exact NC1 by projections, and NC4. With ``False``, one pass with the
        (p, p) second moment gives NC1–NC3.
    distributed : bool, optional
        All-reduce the statistics across ``torch.distributed`` ranks (default: when a process
        group is initialised); each rank's ``loader`` should hold its share of the data.

    Returns
    -------
    NCMetrics
        As :func:`ncedu.measure` on the features of every batch, with ``W`` and ``b`` the
        classifier's weight and bias.

    Examples
    --------
    >>> import torch
    >>> from ncedu.models import MLP
    >>> _ = torch.manual_seed(0)
    >>> model = MLP(6, 3, width=16, depth=2)
    >>> x, y = torch.randn(90, 6), torch.arange(90) % 3
    >>> loader = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 90, 32)]
    >>> m = measure_model(model, loader)
    >>> from ncedu import measure
    >>> with torch.no_grad():   # the same features in memory (measure_model measures in eval mode)
    ...     h = model.eval().features(x)
    >>> exact = measure(h, y, model.classifier.weight.detach(), model.classifier.bias.detach())
    >>> bool(abs(m.nc1 - exact.nc1) < 1e-6 * exact.nc1), m.nc4 == exact.nc4
    (True, True)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if iter(loader) is loader:
        raise TypeError(
            f"loader must be re-iterable (a DataLoader, a list of batches): measure_model reads it twice, and a "
            f"{type(loader).__name__} can be read only once"
        )
    if device is None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but torch sees no CUDA device on this machine; use device='cpu'")
    if classifier is None:
        example = None
        if getattr(model, "classifier", None) is None:
            for batch in loader:
                x, _ = _split_batch(batch)
                example = x[:2].to(device) if isinstance(x, torch.Tensor) else x
                break
        head = find_classifier(model, example)
    else:
        head = _resolve_module(model, classifier, "classifier")
    if not isinstance(head, nn.Linear):
        raise TypeError(f"classifier must be an nn.Linear, got {type(head).__name__}")
    C = head.out_features if num_classes is None else check_num_classes(num_classes)
    if C < 2:
        raise ValueError(f"the classifier has {C} output; neural collapse needs at least 2 classes")
    if distributed is None:
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    hook_on, on_input = (head, True) if feature_layer is None else (_resolve_module(model, feature_layer, "feature_layer"), False)

    was_training = model.training
    model.eval()
    try:
        # one pass with the (p, p) second moment when NC4 is not wanted; else two fast passes
        acc = NCAccumulator(C, second_moment=not nc4)
        for h, y in _features_pass(model, loader, device, hook_on, on_input):
            acc.update(h, y)
        if acc.sums is None:
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
        if not nc4:
            return acc.compute(W, b)
        second = acc.second_pass(W, b)
        for h, y in _features_pass(model, loader, device, hook_on, on_input):
            second.update(h, y)
        if distributed:
            second.all_reduce()
        return second.compute()
    finally:
        model.train(was_training)


def _tapped_batches(model: nn.Module, loader: Iterable, device: torch.device, taps: LayerTaps):
    """Run ``model`` on every batch of ``loader``; after each forward pass yield the batch's labels
    (the taps then hold that batch's layer outputs)."""
    for batch in loader:
        x, y = _split_batch(batch)
        y = torch.as_tensor(y)
        if y.ndim != 1:
            raise ValueError(f"each batch's labels must be a 1-D array of class indices, got shape {tuple(y.shape)}")
        taps.clear()
        model(x.to(device) if isinstance(x, torch.Tensor) else x)
        yield y


@torch.no_grad()
def measure_layers(
    model: nn.Module,
    loader: Iterable,
    layers: Union[str, nn.Module, Sequence[Union[str, nn.Module]]],
    *,
    classifier: Union[None, bool, str, nn.Linear] = None,
    num_classes: Optional[int] = None,
    device: Optional[Union[str, torch.device]] = None,
    distributed: Optional[bool] = None,
) -> dict[str, LayerMetrics]:
    r"""Measure neural collapse at the output of several layers of a model, in two passes over a loader.

    A forward hook on each named module takes its output, flattened per sample to features
    :math:`h_i \in \mathbb{R}^{p_\ell}` (a convolutional map (N, c, s, s) becomes (N, c s^2)), and one
    :class:`ncedu.NCAccumulator` per layer (``second_moment=False``) followed by its exact
    :meth:`~ncedu.NCAccumulator.second_pass` gives the metrics :func:`ncedu.measure` would give on
    that layer's features, with the same definitions: ``NC1 = Tr(Sigma_W Sigma_B^+) / C`` with the
    layer's own class means, NC2 of its centred means, ``nc1_trace_ratio`` and ``cdnv``. The same
    second pass gives He & Su's separation fuzziness ``D = Tr(SS_w SS_b^+)`` (``fuzziness``; ``C * nc1``
    for balanced classes, see :class:`LayerMetrics`).

    Only the layer whose output *is* the classifier's input (value for value, on every batch) has a
    classifier: it also gets NC3, NC4 and the NC2 of the classifier rows, with the classifier's ``W``
    and ``b``, as :func:`measure_model`. For every other layer those fields are ``None``: a hidden
    layer has no classifier of its own to compare its means with.

    Parameters
    ----------
    model : torch.nn.Module
        The network; put in eval mode for the passes and restored afterwards.
    loader : iterable of (inputs, labels, ...) batches
        E.g. a ``torch.utils.data.DataLoader`` or a list of batches; read twice, so it must be
        re-iterable, and it must give the same samples both times.
    layers : list of str or nn.Module
        The modules whose outputs to measure, by name (as in ``model.named_modules()``, e.g.
        ``"body.2"``; :func:`~ncedu.hooks.module_names` lists them) or as modules; a single name is a list of one.
        Each must run once per forward pass and return a tensor of shape (N, ...).
    classifier : nn.Linear, str, None or False, optional
        The last-layer classifier (default: :func:`~ncedu.hooks.find_classifier`, or none when the model has no
        ``nn.Linear`` and ``num_classes`` is given); ``False`` measures without one.
    num_classes : int, optional
        ``C`` (default: the classifier's ``out_features``); required without a classifier.
    device : str or torch.device, optional
        Where to run the model (default: the device of its first parameter).
    distributed : bool, optional
        All-reduce every layer's statistics across ``torch.distributed`` ranks (default: when a
        process group is initialised); each rank's ``loader`` holds its share of the data.

    Returns
    -------
    dict of str to LayerMetrics
        One :class:`LayerMetrics` (an :class:`ncedu.NCMetrics` with ``fuzziness``) per layer, keyed by
        the layer's name, in the order of ``layers``.

    Raises
    ------
    ValueError
        A name that is not a module of the model (the message lists the model's module names), a
        layer named twice, a layer that did not run or ran several times in a forward pass, or whose
        output is not (N, ...) with N the batch size; labels outside ``0..C-1``; a class without samples.
    TypeError
        ``model`` not a module, ``loader`` an iterator that can be read once, a layer that returns
        something other than a floating-point tensor.

    References
    ----------
    Papyan, Han & Donoho (2020), PNAS 117(40) (the metrics); He & Su, "A law of data separation in
    deep learning", PNAS 120(36), 2023 (the fuzziness, and its geometric decay with depth);
    Rangamani et al., "Feature learning in deep classifiers through intermediate neural collapse",
    ICML 2023.

    Examples
    --------
    >>> from ncedu.models import MLP
    >>> _ = torch.manual_seed(0)
    >>> model = MLP(6, 3, width=16, depth=2)
    >>> hidden = module_names(model, nn.ReLU)    # the output of each hidden block
    >>> hidden
    ['body.2', 'body.5']
    >>> x, y = torch.randn(90, 6), torch.arange(90) % 3
    >>> found = measure_layers(model, [(x[i:i + 32], y[i:i + 32]) for i in range(0, 90, 32)], hidden)
    >>> found["body.2"].nc3 is None, found["body.5"].nc3 is None   # only the last feeds the classifier
    (True, False)
    >>> from ncedu import measure
    >>> with torch.no_grad():
    ...     h = model.eval().body[:3](x)                              # the first block's output by hand
    >>> bool(abs(found["body.2"].nc1 - measure(h, y).nc1) < 1e-6 * measure(h, y).nc1)
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    named = resolve_layers(model, layers)
    if iter(loader) is loader:
        raise TypeError(
            f"loader must be re-iterable (a DataLoader, a list of batches): measure_layers reads it twice, and a "
            f"{type(loader).__name__} can be read only once"
        )
    if device is None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but torch sees no CUDA device on this machine; use device='cpu'")
    if num_classes is not None:
        num_classes = check_num_classes(num_classes)
    head: Optional[nn.Module]
    if classifier is False:
        head = None
    elif classifier is None:
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        if not linears and num_classes is not None:
            head = None
        elif not linears:
            raise ValueError("model has no nn.Linear classifier; pass num_classes= to measure its layers without one")
        else:
            example = None
            if getattr(model, "classifier", None) is None:
                for batch in loader:
                    x, _ = _split_batch(batch)
                    example = x[:2].to(device) if isinstance(x, torch.Tensor) else x
                    break
            head = find_classifier(model, example)
    elif isinstance(classifier, bool):
        raise TypeError("classifier must be an nn.Linear, its submodule name, None (find it) or False (none), got True")
    else:
        head = _resolve_module(model, classifier, "classifier")
        if not isinstance(head, nn.Linear):
            raise TypeError(f"classifier must be an nn.Linear, got {type(head).__name__}")
    if head is None and num_classes is None:
        raise ValueError("without a classifier (classifier=False) pass num_classes=, the number of classes C")
    if head is not None and num_classes is not None and num_classes != head.out_features:
        raise ValueError(f"num_classes={num_classes} but the classifier has {head.out_features} outputs; "
                         "leave num_classes out, or pass classifier=False to measure without the classifier")
    C = head.out_features if num_classes is None else num_classes
    if C < 2:
        raise ValueError(f"the classifier has {C} output; neural collapse needs at least 2 classes")
    if distributed is None:
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()

    passes = LayerPasses([n for n, _ in named], C, head)
    was_training = model.training
    model.eval()
    try:
        with LayerTaps(named, head) as taps:
            for y in _tapped_batches(model, loader, device, taps):
                passes.first(taps.take(y.shape[0]), y, taps.head_input(y.shape[0]))
            if distributed:
                passes.all_reduce_first()
            passes.begin_second()
            for y in _tapped_batches(model, loader, device, taps):
                passes.second(taps.take(y.shape[0]), y)
            if distributed:
                passes.all_reduce_second()
        return passes.results()
    finally:
        model.train(was_training)
