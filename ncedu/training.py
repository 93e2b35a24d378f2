"""Train a classifier far past zero training error, measuring neural collapse as it happens.

:func:`train` follows the recipe of Papyan, Han & Donoho (2020) by default (SGD with momentum
0.9, weight decay, batch 128, learning rate divided by 10 at 1/3 and 2/3 of training) and
measures at log-spaced epochs (the paper: 50 measurements over 350 epochs). Each measurement is
one pass over the training set in eval mode that gives the training loss and accuracy *and*
the penultimate features, from which :func:`ncedu.measure` computes NC1–NC4; nothing is
retrained or recomputed. The result is a :class:`ncedu.History`.

Same seed, same numbers on CPU. A non-finite loss stops training with a clear error. With a
``checkpoint`` path, training can be interrupted and resumed; checkpoints are written
atomically and read with ``torch.load(weights_only=True)`` (no arbitrary unpickling).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import _checkpoint
from ._records import check_record_layers, check_test_classes, record_layer_metrics, record_test_metrics
from ._validation import as_tensor, check_bool, check_int, check_labels, check_real, check_seed
from ._display import static_output
from .history import History
from .metrics import measure
from .hooks import find_classifier

__all__ = ["train", "log_spaced_epochs", "TrainingDivergedError", "default_device", "default_num_threads", "LOSSES"]

#: The losses :func:`~ncedu.train` minimises: softmax cross-entropy, and the mean squared error against
#: one-hot targets (the paper's two).
LOSSES = ("cross_entropy", "mse")

Data = tuple[torch.Tensor, torch.Tensor]


class TrainingDivergedError(RuntimeError):
    """The training loss, or the features at a measurement, became NaN or infinite.

    Raised by :func:`~ncedu.train` at the first such batch, with the epoch, the learning rate and what
    to try; a ``RuntimeError``.

    Examples
    --------
    >>> from ncedu.models import MLP
    >>> _ = torch.manual_seed(0)
    >>> x, y = 1e3 * torch.randn(32, 4), torch.arange(32) % 2
    >>> try:
    ...     train(MLP(4, 2, width=8, depth=1, batch_norm=False), (x, y), epochs=5, lr=1e6, progress=False)
    ... except TrainingDivergedError as err:
    ...     print("diverged:", "try a smaller lr" in str(err))
    diverged: True
    """


def default_device() -> torch.device:
    """The device :func:`~ncedu.train` uses unless told otherwise: cuda if available, then Apple's mps, else cpu.

    Returns
    -------
    torch.device

    Examples
    --------
    >>> default_device().type in ("cuda", "mps", "cpu")
    True
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def default_num_threads() -> int:
    """The CPU thread count :func:`~ncedu.train` uses unless told otherwise: one core left free.

    ``min(torch.get_num_threads(), max(1, os.cpu_count() - 1))``: on a 2-core laptop or Colab's
    2-vCPU runtime, one thread. Measured on a 2-core machine (``python benchmarks/bench_threads.py``):
    two threads train the flagship MLP about 1.3x faster than one when nothing else runs, but
    about 5x *slower* beside one other busy process, because OpenMP's threads wait for each other
    at every operation and one of them keeps losing its core. Leaving a core free costs a little
    on an idle machine and avoids the stall. Pass ``num_threads=`` to :func:`~ncedu.train` to choose.

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> import os
    >>> default_num_threads() == max(1, min(torch.get_num_threads(), (os.cpu_count() or 1) - 1))
    True
    """
    cores = os.cpu_count() or 1
    return max(1, min(torch.get_num_threads(), cores - 1))


def log_spaced_epochs(epochs: int, count: int = 30) -> list[int]:
    """``min(count, epochs)`` distinct epochs from 1 to ``epochs``, log-spaced: dense early, sparse late.

    The epochs ``round(epochs ** (k / (count - 1)))`` for ``k = 0..count-1`` (``numpy.geomspace``),
    always including the first and the last, as the paper's 50 measurements over 350 epochs
    (Papyan, Han & Donoho 2020); early epochs that rounding merges are replaced by the smallest
    epochs not yet chosen, so that the count is kept.

    Parameters
    ----------
    epochs : int
        The last epoch, at least 1.
    count : int, default 30
        How many epochs to choose, at least 1.

    Returns
    -------
    list of int
        Increasing.

    Examples
    --------
    >>> log_spaced_epochs(350, 8)
    [1, 2, 5, 12, 28, 66, 152, 350]
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    grid = np.unique(np.round(np.geomspace(1, epochs, num=count)).astype(int))
    # rounding merges early epochs; top up with the smallest missing ones so the count is kept
    missing = [e for e in range(1, epochs + 1) if e not in set(grid)]
    extra = missing[: max(0, min(count, epochs) - len(grid))]
    return sorted(set(grid.tolist()) | set(extra))


def _check_data(data: Any, name: str, dtype: torch.dtype) -> Data:
    """(inputs, labels) as tensors: inputs in the model's floating dtype (numpy's float64 becomes the
    model's float32, say), labels as int64 class indices."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"{name} must be a pair (inputs, labels) of tensors, e.g. from ncedu.data.load")
    x, y = data
    x = as_tensor(x, f"{name} inputs")
    if not x.is_floating_point():
        raise TypeError(f"{name} inputs must be floating point, got {x.dtype} (scale integer pixels to floats)")
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"{name} inputs must have a batch dimension and at least one sample, got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} inputs contain NaN or infinite values")
    y, _ = check_labels(y, x.shape[0], name=f"{name} labels", require_all_classes=False)
    return x.to(dtype), y


def _check_device(device: Any) -> torch.device:
    """The device to train on: the default (cuda, then mps, then cpu), or one that exists here."""
    if device is None:
        return default_device()
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda', got {device!r} ({err})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but torch sees no CUDA device on this machine; use device='cpu'")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device='mps' but this machine has no Apple-silicon GPU; use device='cpu'")
    return device


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _fingerprint(x: torch.Tensor, y: torch.Tensor) -> str:
    """A short hash of the training data, so that a checkpoint is never resumed on other data."""
    digest = hashlib.sha256()
    for t in (x, y):
        digest.update(str((tuple(t.shape), str(t.dtype))).encode())
        digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _loss_fn(loss: str, num_classes: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if loss == "cross_entropy":
        return lambda out, y: F.cross_entropy(out, y)
    if loss == "mse":
        # As the authors' code: mean over samples and classes of (output - one-hot)^2.
        return lambda out, y: F.mse_loss(out, F.one_hot(y, num_classes).to(out.dtype))
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


@torch.no_grad()
def _evaluate(model, head, x, y, loss_fn, device, batch_size=2048):
    """One eval-mode pass: mean loss, accuracy, penultimate features (CPU) and logits' decisions."""
    captured = []
    handle = head.register_forward_pre_hook(lambda m, args: captured.append(args[0].detach()))
    total_loss, correct, feats = 0.0, 0, []
    try:
        for start in range(0, x.shape[0], batch_size):
            xb, yb = x[start : start + batch_size].to(device), y[start : start + batch_size].to(device)
            captured.clear()
            out = model(xb)
            total_loss += float(loss_fn(out, yb)) * xb.shape[0]
            correct += int((out.argmax(1) == yb).sum())
            feats.append(captured[0].reshape(xb.shape[0], -1).float().cpu())
    finally:
        handle.remove()
    n = x.shape[0]
    return total_loss / n, correct / n, torch.cat(feats)


def _sample_indices(y: torch.Tensor, per_class: int, seed: int) -> np.ndarray:
    """A fixed sample of up to ``per_class`` training indices of each class, sorted by class."""
    rng = np.random.default_rng([seed, 1])
    yn = y.numpy()
    picks = [np.sort(rng.permutation(np.flatnonzero(yn == c))[:per_class]) for c in np.unique(yn)]
    return np.concatenate(picks)


@contextlib.contextmanager
def _cpu_threads(count: int):
    """Run the block with ``count`` torch CPU threads, then restore the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train(
    model: nn.Module,
    data: Data,
    *,
    epochs: int,
    seed: int = 0,
    test: Optional[Data] = None,
    loss: str = "cross_entropy",
    lr: float = 0.05,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    batch_size: int = 128,
    lr_milestones: Optional[Sequence[int]] = None,
    lr_decay: float = 0.1,
    measure_epochs: Optional[Sequence[int]] = None,
    num_measurements: int = 30,
    samples_per_class: int = 20,
    device: Optional[Union[str, torch.device]] = None,
    progress: bool = True,
    checkpoint: Optional[Union[str, os.PathLike]] = None,
    checkpoint_every: int = 10,
    config: Optional[dict] = None,
    num_threads: Optional[int] = None,
    record_layers: Optional[Sequence[str]] = None,
) -> History:
    """Train ``model`` on ``data`` for ``epochs`` epochs and record neural collapse.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier whose last layer is an ``nn.Linear`` (``model.classifier`` or the last one
        registered), e.g. :class:`ncedu.models.MLP`. Its input is the penultimate feature.
    data : tuple of (inputs, labels)
        Training tensors (or arrays), e.g. from :func:`ncedu.data.load`: floating inputs with a
        batch dimension, integer labels in ``0..C-1`` with every class present.
    epochs : int
        Number of passes over the training data (>= 1).
    seed : int, default 0
        Seeds the batch order (and anything random in the model's forward); initialise the model
        under ``torch.manual_seed`` yourself for a fully reproducible run. On a CPU the same seed
        gives bit-identical runs for the same torch version, CPU type and number of threads
        (``torch.get_num_threads()``). A different thread count or CPU changes the rounding of
        the matrix products, and training amplifies such differences: the flagship run ends with
        NC1 = 0.0058 on two threads and 0.0053 on one (terminal phase at epoch 112 in both). The
        book therefore quotes rounded values.
    test : tuple of (inputs, labels), optional
        Held-out data: test loss and accuracy are recorded at each measured epoch, and the metrics
        of the test features (:data:`ncedu.history.TEST_FIELDS`: NC1–NC3, trace ratio and CDNV with
        the test set's own class means; ``test_nc4`` against the nearest *training* class mean).
        Labels must be classes of the classifier (a ``ValueError`` otherwise, before training); if
        a class has no test sample, a warning says that the test-set metrics are NaN.
    loss : {"cross_entropy", "mse"}, default "cross_entropy"
        ``"mse"`` is ``torch.nn.functional.mse_loss`` against one-hot targets: the mean over all
        ``N C`` squared entries, ``(1/(N C)) sum_i ||f(x_i) - e_{y_i}||^2``.
    lr, momentum, weight_decay : float, defaults 0.05, 0.9 and 5e-4
        SGD settings (the paper: momentum 0.9, weight decay 5e-4). Weight decay ``omega`` adds
        ``omega * theta`` to the gradient of every parameter ``theta`` (biases included), i.e.
        minimises the loss plus ``(omega / 2) ||theta||^2``.
    batch_size : int, default 128
        Samples per SGD step (the paper: 128); the batch order is drawn from ``seed``.
    lr_milestones : sequence of int, optional
        Epochs after which the learning rate is multiplied by ``lr_decay`` (default: 1/3 and 2/3
        of ``epochs``, as the paper).
    lr_decay : float, default 0.1
        The factor applied at each milestone.
    measure_epochs : sequence of int, optional
        Epochs at which to measure (default: ``num_measurements`` log-spaced ones,
        :func:`~ncedu.training.log_spaced_epochs`).
    num_measurements : int, default 30
        How many log-spaced epochs to measure when ``measure_epochs`` is not given.
    samples_per_class : int, default 20
        Training examples per class whose features are kept at every measurement.
    device : str or torch.device, optional
        Default :func:`~ncedu.training.default_device`: cuda, then mps, then cpu.
    progress : bool, default True
        Show a progress bar (tqdm.auto: a bar in notebooks, plain text in terminals); never
        shown when the output is a static page (the book build, ``NCEDU_STATIC_WIDGETS=1``).
    checkpoint : str or os.PathLike, optional
        Path of a checkpoint file; if it exists, training resumes from it (after checking that
        it belongs to the same run and data). Written every ``checkpoint_every`` epochs and at the
        end, atomically.
    checkpoint_every : int, default 10
        Epochs between checkpoints.
    config : dict, optional
        Extra JSON-serialisable description saved in the History.
    num_threads : int, optional
        CPU threads for training (``torch.set_num_threads``, restored afterwards); default
        :func:`~ncedu.training.default_num_threads`, which leaves one core free. Recorded in the History's
        ``config["provenance"]``, since the thread count changes the rounding (see ``seed``).
    record_layers : list of str, optional
        Names of modules (``ncedu.hooks.module_names(model)`` lists them) whose outputs are measured
        on the training data at each measured epoch by :func:`ncedu.measure_layers`: NC1, He & Su's
        separation fuzziness and the rest of :data:`ncedu.history.LAYER_FIELDS`, one value per
        layer, with the names in ``history.layers`` (and ``config["record_layers"]``). Two more
        forward passes over the training set per measurement; nothing else changes.

    Returns
    -------
    History
        One row per measured epoch: the learning rate, training (and test) loss and accuracy,
        every metric of :func:`ncedu.measure` on the training features, the class means, ``W``,
        ``b`` and the features of ``samples_per_class`` examples per class; with ``test`` the
        test-set metrics, with ``record_layers`` the layers'.

    Raises
    ------
    TrainingDivergedError
        If the loss or the features become NaN or infinite.

    Examples
    --------
    Three well-separated Gaussian classes, a small MLP, 40 epochs (well under a second):

    >>> from ncedu.models import MLP
    >>> _ = torch.manual_seed(0)
    >>> y = torch.arange(90) % 3
    >>> x = 3 * torch.eye(3, 8)[y] + torch.randn(90, 8)
    >>> history = train(MLP(8, 3, width=16, depth=2), (x, y), epochs=40, lr=0.1, batch_size=30,
    ...                 weight_decay=5e-3, num_measurements=10, progress=False)
    >>> len(history), history["epoch"][[0, -1]].tolist(), float(history["train_acc"][-1])
    (10, [1, 40], 1.0)
    >>> bool(history["nc1"][-1] < history["nc1"][0])
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    epochs = check_int(epochs, "epochs", minimum=1)
    seed = check_seed(seed)
    lr = check_real(lr, "lr", minimum=0.0, include_minimum=False)
    momentum = check_real(momentum, "momentum", minimum=0.0, maximum=1.0, include_maximum=False)
    weight_decay = check_real(weight_decay, "weight_decay", minimum=0.0)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr_decay = check_real(lr_decay, "lr_decay", minimum=0.0, include_minimum=False)
    num_measurements = check_int(num_measurements, "num_measurements", minimum=1)
    samples_per_class = check_int(samples_per_class, "samples_per_class", minimum=1)
    checkpoint_every = check_int(checkpoint_every, "checkpoint_every", minimum=1)
    progress = check_bool(progress, "progress")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    device = _check_device(device)
    num_threads = default_num_threads() if num_threads is None else check_int(num_threads, "num_threads", minimum=1)
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    x, y = _check_data(data, "data", dtype)
    head = find_classifier(model, x[:2].to(_model_device(model)))
    C = head.out_features
    if C < 2:
        raise ValueError(f"the model's classifier has {C} output; classification (and neural collapse) needs at least 2")
    if int(y.max()) >= C:
        raise ValueError(f"data labels reach class {int(y.max())} but the model's classifier has {C} outputs")
    counts = torch.bincount(y, minlength=C)
    if bool((counts == 0).any()):
        raise ValueError(f"class(es) {torch.nonzero(counts == 0).flatten().tolist()} have no training samples")
    if test is not None:
        test = _check_data(test, "test", dtype)
        if test[0].shape[1:] != x.shape[1:]:
            raise ValueError(f"test inputs have shape {tuple(test[0].shape[1:])} per sample but data has "
                             f"{tuple(x.shape[1:])}")
        if int(test[1].max()) >= C:
            raise ValueError(f"test labels reach class {int(test[1].max())} but the model's classifier has {C} outputs "
                             f"(classes 0..{C - 1}): test data must hold only classes seen in training")
    test_metrics = test is not None and check_test_classes(test[1], C)
    layer_names = None if record_layers is None else check_record_layers(model, record_layers,
                                                                          x[:2].to(_model_device(model)))
    if batch_size == 1 and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        raise ValueError("batch_size=1 with a batch-norm model: one sample has no batch statistics to normalise "
                         "with; use batch_size >= 2 or a model without batch norm")
    loss_fn = _loss_fn(loss, C)
    if lr_milestones is None:
        milestones = sorted({epochs // 3, 2 * epochs // 3} - {0})
    else:
        milestones = sorted({check_int(e, "lr_milestones entries", minimum=1, maximum=epochs) for e in lr_milestones})
    if measure_epochs is None:
        measure_at = set(log_spaced_epochs(epochs, num_measurements))
    else:
        measure_at = set()
        for e in measure_epochs:
            try:
                measure_at.add(check_int(e, "measure_epochs entries", minimum=1, maximum=epochs))
            except (TypeError, ValueError) as err:
                raise type(err)(f"measure_epochs must be epochs in 1..{epochs}: {err}") from None
    with _cpu_threads(num_threads):
        model.to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=lr_decay)
        generator = torch.Generator().manual_seed(seed)
        sample_idx = _sample_indices(y, samples_per_class, seed)
        run_config = {
            "model": type(model).__name__,
            "num_classes": C,
            "num_train": int(x.shape[0]),
            "epochs": int(epochs),
            "seed": int(seed),
            "loss": loss,
            "lr": lr,
            "momentum": momentum,
            "weight_decay": weight_decay,
            "batch_size": int(batch_size),
            "lr_milestones": milestones,
            "lr_decay": lr_decay,
            "measure_epochs": sorted(measure_at),
            "samples_per_class": samples_per_class,
            "data_fingerprint": _fingerprint(x, y),
            **({} if layer_names is None else {"record_layers": layer_names}),
            **(config or {}),
            # where the numbers came from: the same seed reproduces them bit for bit only with the
            # same torch version, device and thread count (not compared when resuming a checkpoint)
            "provenance": {"torch": torch.__version__, "device": str(device), "threads": torch.get_num_threads()},
        }
        history = History(config=run_config, sample_labels=y[sample_idx].numpy(), class_counts=counts.numpy(),
                          layers=layer_names)
        start_epoch = 1

        ckpt_path = Path(checkpoint) if checkpoint is not None else None
        if ckpt_path is not None and ckpt_path.exists():
            history, start_epoch = _checkpoint.resume(ckpt_path, run_config, model, optimizer, scheduler, generator)

        bar = None
        if progress and not static_output():
            from tqdm.auto import tqdm

            bar = tqdm(total=epochs, initial=start_epoch - 1, desc="training", unit="epoch", leave=True)
        x_dev, y_dev = x.to(device), y.to(device)
        n = x.shape[0]
        has_batch_norm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
        try:
            for epoch in range(start_epoch, epochs + 1):
                model.train()
                perm = torch.randperm(n, generator=generator).to(device)
                running, seen = 0.0, 0
                for start in range(0, n, batch_size):
                    idx = perm[start : start + batch_size]
                    if idx.numel() == 1 and batch_size > 1 and has_batch_norm:
                        continue  # a ragged last batch of one sample has no batch statistics: skipped
                    out = model(x_dev[idx])
                    batch_loss = loss_fn(out, y_dev[idx])
                    if not bool(torch.isfinite(batch_loss.detach())):
                        raise TrainingDivergedError(
                            f"the training loss became {float(batch_loss)} at epoch {epoch} "
                            f"(learning rate {optimizer.param_groups[0]['lr']:g}); try a smaller lr "
                            f"(now {lr:g}), a smaller weight_decay, or batch norm in the model"
                        )
                    optimizer.zero_grad(set_to_none=True)
                    batch_loss.backward()
                    optimizer.step()
                    running += float(batch_loss.detach()) * idx.numel()
                    seen += idx.numel()
                current_lr = optimizer.param_groups[0]["lr"]
                scheduler.step()

                if epoch in measure_at:
                    model.eval()
                    train_loss, train_acc, feats = _evaluate(model, head, x, y, loss_fn, device)
                    if not (math.isfinite(train_loss) and bool(torch.isfinite(feats).all())):
                        raise TrainingDivergedError(
                            f"the features or the loss became infinite or NaN at epoch {epoch} "
                            f"(learning rate {current_lr:g}); try a smaller lr (now {lr:g}), a smaller "
                            "weight_decay, or batch norm in the model"
                        )
                    W, b = head.weight.detach().cpu(), None if head.bias is None else head.bias.detach().cpu()
                    m = measure(feats, y, W, b, num_classes=C)
                    test_loss = test_acc = None
                    extra = {}  # what is recorded only when asked: test-set and layer metrics
                    if test is not None:
                        test_loss, test_acc, test_feats = _evaluate(model, head, test[0], test[1], loss_fn, device)
                        if test_metrics:
                            extra.update(record_test_metrics(test_feats, test[1], W, b, m.class_means, C))
                    if layer_names is not None:
                        extra.update(record_layer_metrics(model, head, x, y, layer_names, C, device))
                    history.append(
                        epoch=epoch,
                        lr=current_lr,
                        train_loss=train_loss,
                        train_acc=train_acc,
                        test_loss=test_loss,
                        test_acc=test_acc,
                        **m.as_dict(),
                        class_means=m.class_means,
                        W=W.double().numpy(),
                        b=np.zeros(C) if b is None else b.double().numpy(),
                        sample_features=feats[sample_idx].numpy(),
                        **extra,
                    )
                if ckpt_path is not None and (epoch % checkpoint_every == 0 or epoch == epochs):
                    _checkpoint.save(ckpt_path, epoch, model, optimizer, scheduler, generator, history)
                if bar is not None:
                    post = {"loss": f"{running / max(seen, 1):.3g}"}
                    if len(history):
                        post.update(train_acc=f"{history['train_acc'][-1]:.3f}", nc1=f"{history['nc1'][-1]:.3g}")
                    bar.set_postfix(post, refresh=False)
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        model.eval()
        return history
