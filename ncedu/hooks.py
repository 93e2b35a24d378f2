"""Measuring a torch model: its penultimate features by a hook, over a data loader, in two passes.

:func:`measure_model` runs the streaming passes of :mod:`ncedu.streaming` on the features that a
forward hook captures, batch by batch; :func:`find_classifier` finds the last-layer ``nn.Linear``
by what produces the model's output.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Union

import torch
from torch import nn

from ._validation import check_num_classes
from .metrics import NCMetrics
from .streaming import NCAccumulator

__all__ = ["measure_model", "find_classifier"]


def find_classifier(model: nn.Module, example: Any = None) -> nn.Linear:
    """The model's last-layer classifier: the ``nn.Linear`` whose output the model returns.

    In this order: the model's ``classifier`` attribute if it is an ``nn.Linear``; the only
    ``nn.Linear`` of the model; with an ``example`` input, the ``nn.Linear`` whose output *is* the
    tensor that ``model(example)`` returns (found with forward hooks, in eval mode, without
    gradients). Anything else is ambiguous (an auxiliary head registered after the classifier,
    say) and raises an error that asks for ``classifier=``.
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
    loader : iterable of (inputs, labels, ...) batches, e.g. a ``torch.utils.data.DataLoader``
    classifier : nn.Linear or submodule name, optional
    feature_layer : nn.Module or submodule name, optional
    num_classes : int, optional (default: ``classifier.out_features``)
    device : where to run the model (default: the device of its first parameter)
    nc4 : bool, run the second pass for NC4 (default True)
    distributed : bool, all-reduce across ``torch.distributed`` ranks (default: when initialised)
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
