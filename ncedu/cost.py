r"""What one training step of a model costs: floating-point operations counted, seconds measured.

A chapter that asks "what would the paper's experiment cost here?" needs two numbers per model:
how many floating-point operations one training step does per sample (a property of the model and
the input size, the same on every machine) and how long one step takes on *this* machine (which
depends on the CPU or GPU, the thread count and the load). :func:`step_cost` measures both:

* the operations by :class:`torch.utils.flop_counter.FlopCounterMode`, which counts the
  multiply-adds of matrix products and convolutions as two operations each (element-wise
  operations such as ReLU and batch norm are not counted, so the totals are slight underestimates);
  ``forward_flops`` for one eval-mode forward pass, ``step_flops`` for the forward and backward
  passes of a training step, both per sample;
* the time of a few SGD steps (momentum 0.9, cross-entropy) on a copy of the model, the fastest of
  them divided by the batch size.

The model passed in is never changed (the steps run on a deep copy).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from ._validation import ArrayLike, check_int

__all__ = ["StepCost", "step_cost"]


@dataclass(frozen=True)
class StepCost:
    """The cost of a training step, per sample.

    Attributes
    ----------
    parameters : int
        Scalar parameters of the model.
    forward_flops : float
        Floating-point operations of one eval-mode forward pass, per sample.
    step_flops : float
        Floating-point operations of a training step's forward and backward passes, per sample.
    seconds : float
        Wall-clock seconds of one SGD step per sample on this machine: the fastest of the timed
        steps divided by the batch size.
    batch_size : int
        The batch the step was measured on.
    threads : int
        ``torch.get_num_threads()`` during the measurement.

    Examples
    --------
    >>> c = StepCost(parameters=10, forward_flops=20.0, step_flops=60.0, seconds=1e-6, batch_size=4, threads=1)
    >>> c.step_flops / c.forward_flops
    3.0
    """

    parameters: int
    forward_flops: float
    step_flops: float
    seconds: float
    batch_size: int
    threads: int


def _count(fn) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def step_cost(model: nn.Module, inputs: ArrayLike, labels: ArrayLike, *, repeats: int = 3,
              num_threads: Optional[int] = None) -> StepCost:
    r"""Count the operations of a training step of ``model`` on a batch and time it on this machine.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits of shape (B, C); left unchanged (a deep copy is trained).
    inputs : torch.Tensor
        One batch of inputs, batch dimension first (at least 2 samples, for batch norm).
    labels : torch.Tensor of shape (B,)
        Integer class labels in ``0..C-1``.
    repeats : int, default 3
        Timed SGD steps; the fastest counts (the first step also allocates memory).
    num_threads : int, optional
        CPU threads during the measurement (default: the current ``torch.get_num_threads()``);
        restored afterwards.

    Returns
    -------
    StepCost

    Examples
    --------
    A linear classifier of 3 inputs and 2 classes does ``2 * 3 * 2 = 12`` operations per sample
    forward, and as many again backward for the gradient of its weights (the inputs need none; a
    hidden layer's backward pass also computes the gradient of its input, twice the forward cost):

    >>> c = step_cost(nn.Linear(3, 2), torch.randn(5, 3), torch.tensor([0, 1, 0, 1, 1]), repeats=1)
    >>> c.parameters, c.forward_flops, c.step_flops, c.seconds > 0
    (8, 12.0, 24.0, True)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(inputs, torch.Tensor) or not inputs.is_floating_point():
        raise TypeError("inputs must be a floating-point torch.Tensor (one batch, batch dimension first)")
    if inputs.ndim < 2 or inputs.shape[0] < 2:
        raise ValueError(f"inputs must hold a batch of at least 2 samples, got shape {tuple(inputs.shape)}")
    if not isinstance(labels, torch.Tensor) or labels.dtype not in (torch.int64, torch.int32):
        raise TypeError("labels must be an integer torch.Tensor of class labels")
    if labels.shape != (inputs.shape[0],):
        raise ValueError(f"labels must have shape ({inputs.shape[0]},) to match inputs, got {tuple(labels.shape)}")
    repeats = check_int(repeats, "repeats", minimum=1)
    threads = torch.get_num_threads() if num_threads is None else check_int(num_threads, "num_threads", minimum=1)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        net = copy.deepcopy(model)
        device = next((p.device for p in net.parameters()), torch.device("cpu"))
        x, y = inputs.to(device), labels.to(device).long()
        B = x.shape[0]
        net.eval()
        with torch.no_grad():
            forward = _count(lambda: net(x)) / B
        net.train()
        step = _count(lambda: nn.functional.cross_entropy(net(x), y).backward()) / B
        optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)
        best = float("inf")
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(net(x), y).backward()
            optimizer.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    parameters = sum(p.numel() for p in model.parameters())
    return StepCost(parameters=parameters, forward_flops=forward, step_flops=step, seconds=best / B,
                    batch_size=B, threads=threads)
