r"""Probes on frozen features: how well do a network's features serve classes it was not trained on?

Galanti, György & Hutter (ICLR 2022) relate neural collapse to transfer: if the features of a
network's training classes collapse, the features of *new* classes drawn from the same distribution
tend to cluster too, so a classifier fitted on very few examples of each new class does well. Their
measure of clustering is the class-distance normalised variance (CDNV, ``NCMetrics.cdnv``); the
classifiers fitted on top of the frozen features are *probes*:

* :func:`ncc_probe`: the nearest-class-centre classifier, the class means of the few training
  examples and :math:`\hat y(h) = \arg\min_c \|h - \mu_c\|` (:func:`ncedu.nearest_centre`);
* :func:`linear_probe`: multinomial logistic regression on the frozen features, fitted to its
  unique optimum (an L2 penalty on the weights makes the problem strictly convex in ``W``);
* :func:`few_shot_split`: ``shots`` examples of every class chosen by a seed, and the rest.

Class labels may be any non-negative integers (``5..9`` for the held-out half of Fashion-MNIST,
say): the probe's classes are those of its training labels, and every class it is tested on needs
at least one training example. Everything is computed in float64 on the CPU and is deterministic.

Kornblith, Chen, Lee & Norouzi (NeurIPS 2021) observe the other side: losses and regularisers that
make the training classes' features more separated (more collapsed) can make the features
*less* useful for other tasks; a probe's accuracy is how to test either claim on a run.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

from ._validation import ArrayLike, as_tensor, check_features, check_int, check_labels, check_real, check_seed
from .metrics import nearest_centre

__all__ = ["ProbeResult", "few_shot_split", "ncc_probe", "linear_probe"]

F64 = torch.float64


@dataclass(frozen=True, eq=False)
class ProbeResult:
    """What a probe predicts on the test features, and how often it is right.

    Attributes
    ----------
    accuracy : float
        The fraction of test samples whose predicted class is their label.
    predictions : numpy.ndarray of shape (M,), int64
        The predicted class of each test sample, in the labels' own class ids.
    classes : numpy.ndarray of shape (K,), int64
        The probe's classes (those of the training labels), in the order of the rows below.
    means : numpy.ndarray of shape (K, p) or None
        :func:`ncc_probe`: the class means of the training features.
    W, b : numpy.ndarray of shapes (K, p) and (K,), or None
        :func:`linear_probe`: the fitted weights and bias, ``logits = h @ W.T + b``.
    converged : bool or None
        :func:`linear_probe`: whether the optimiser reached the gradient tolerance.

    Examples
    --------
    >>> r = ncc_probe(np.array([[0.0], [1.0], [5.0]]), [0, 0, 1], np.array([[4.0], [0.2]]), [1, 1])
    >>> r.accuracy, r.predictions.tolist(), r.classes.tolist(), r.W is None
    (0.5, [1, 0], [0, 1], True)
    """

    accuracy: float
    predictions: np.ndarray
    classes: np.ndarray
    means: Optional[np.ndarray] = None
    W: Optional[np.ndarray] = None
    b: Optional[np.ndarray] = None
    converged: Optional[bool] = None


def _labels(labels: Any, name: str) -> np.ndarray:
    """Non-negative integer class ids (N,) as int64 numpy, checked."""
    t = as_tensor(labels, name)
    y, _ = check_labels(t, t.shape[0] if t.ndim == 1 else 0, name=name, require_all_classes=False)
    return y.cpu().numpy()


def few_shot_split(labels: ArrayLike, shots: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Choose ``shots`` examples of every class by a seed: the few-shot training set and the rest.

    Parameters
    ----------
    labels : array or tensor of shape (N,)
        Non-negative integer class ids; the classes are those that occur.
    shots : int
        Examples per class to choose, at least 1; every class must have that many.
    seed : int, default 0
        Seeds ``numpy.random.default_rng``; the same seed gives the same split.

    Returns
    -------
    chosen, rest : numpy.ndarray of int64
        Indices into ``labels``: ``chosen`` holds ``shots`` per class (grouped by class, in increasing
        class order, each group sorted), ``rest`` every other index, sorted.

    Raises
    ------
    ValueError
        ``shots`` below 1, or a class with fewer than ``shots`` examples (named with its count).

    Examples
    --------
    >>> chosen, rest = few_shot_split([5, 5, 7, 7, 7, 5], shots=2, seed=0)
    >>> sorted(np.asarray([5, 5, 7, 7, 7, 5])[chosen].tolist()), len(rest)
    ([5, 5, 7, 7], 2)
    """
    shots = check_int(shots, "shots", minimum=1)
    seed = check_seed(seed)
    y = _labels(labels, "labels")
    classes, counts = np.unique(y, return_counts=True)
    short = [(int(c), int(k)) for c, k in zip(classes, counts) if k < shots]
    if short:
        listed = ", ".join(f"class {c} has {k}" for c, k in short[:10])
        raise ValueError(f"shots={shots} examples per class, but labels has fewer for some classes ({listed}); "
                         "choose fewer shots or pass more examples")
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([np.sort(rng.permutation(np.flatnonzero(y == c))[:shots]) for c in classes])
    rest = np.setdiff1d(np.arange(len(y)), chosen)
    return chosen.astype(np.int64), rest.astype(np.int64)


def _prepare(train_features: Any, train_labels: Any, test_features: Any, test_labels: Any):
    """Checked float64 features and int64 labels; the probe's classes; test labels as class indices."""
    Htr = check_features(train_features, "train_features").to("cpu", F64)
    Hte = check_features(test_features, "test_features").to("cpu", F64)
    if Hte.shape[1] != Htr.shape[1]:
        raise ValueError(f"test_features has {Hte.shape[1]} columns but train_features has {Htr.shape[1]}; they "
                         "must be the same features")
    ytr, _ = check_labels(train_labels, Htr.shape[0], name="train_labels", require_all_classes=False)
    yte, _ = check_labels(test_labels, Hte.shape[0], name="test_labels", require_all_classes=False)
    ytr, yte = ytr.cpu().numpy(), yte.cpu().numpy()
    classes = np.unique(ytr)
    if len(classes) < 2:
        raise ValueError(f"train_labels hold only class {classes.tolist()}: a probe needs at least 2 classes")
    unseen = np.setdiff1d(np.unique(yte), classes)
    if unseen.size:
        raise ValueError(
            f"test_labels contain class(es) {unseen.tolist()[:10]} with no example in train_labels: a probe needs at "
            "least 1 training example of every class it is tested on (few_shot_split chooses some of each)"
        )
    return Htr, np.searchsorted(classes, ytr), Hte, yte, classes


def ncc_probe(train_features: ArrayLike, train_labels: ArrayLike, test_features: ArrayLike,
              test_labels: ArrayLike) -> ProbeResult:
    r"""The nearest-class-centre probe: class means of the training features, each test feature to the nearest.

    .. math::

        \mu_c = \frac{1}{n_c} \sum_{i : y_i = c} h_i, \qquad \hat y(h) = \arg\min_c \| h - \mu_c \|

    over the classes ``c`` of ``train_labels`` (ties to the smallest class id), the NCC rule of the
    paper's NC4 applied to new data (Galanti, György & Hutter 2022).

    Parameters
    ----------
    train_features : array or tensor of shape (n, p)
        Frozen features of the probe's training examples (a few per class).
    train_labels : array or tensor of shape (n,)
        Their non-negative integer class ids; at least 2 classes.
    test_features : array or tensor of shape (M, p)
    test_labels : array or tensor of shape (M,)
        Classes that occur in ``train_labels``.

    Returns
    -------
    ProbeResult
        ``accuracy``, ``predictions``, ``classes`` and the class ``means``.

    Raises
    ------
    ValueError
        Features of different widths, fewer than 2 training classes, or a test class without a
        training example.

    Examples
    --------
    >>> train = np.array([[0.0, 0.0], [0.2, 0.0], [4.0, 0.0]])
    >>> r = ncc_probe(train, [5, 5, 8], np.array([[0.9, 0.0], [3.0, 1.0]]), [5, 8])
    >>> r.accuracy, r.predictions.tolist(), r.means.tolist()
    (1.0, [5, 8], [[0.1, 0.0], [4.0, 0.0]])
    """
    Htr, idx, Hte, yte, classes = _prepare(train_features, train_labels, test_features, test_labels)
    K = len(classes)
    counts = np.bincount(idx, minlength=K)
    means = np.zeros((K, Htr.shape[1]))
    np.add.at(means, idx, Htr.numpy())
    means /= counts[:, None]
    predictions = classes[nearest_centre(Hte, means)]
    return ProbeResult(accuracy=float(np.mean(predictions == yte)), predictions=predictions.astype(np.int64),
                       classes=classes.astype(np.int64), means=means)


def linear_probe(train_features: ArrayLike, train_labels: ArrayLike, test_features: ArrayLike, test_labels: ArrayLike, *,
                 weight_decay: float = 1e-3, max_iter: int = 500, tol: float = 1e-6) -> ProbeResult:
    r"""A multinomial logistic-regression probe on frozen features, fitted to its unique optimum.

    Minimises, over ``W`` (K x p) and ``b`` (K,),

    .. math::

        L(W, b) = \frac{1}{n} \sum_{i=1}^{n} \Big( \log \sum_{c} e^{w_c^\top h_i + b_c}
                  - (w_{y_i}^\top h_i + b_{y_i}) \Big) + \frac{\lambda}{2} \|W\|_F^2,

    the mean cross-entropy plus an L2 penalty on the weights (not the bias) with
    :math:`\lambda` = ``weight_decay`` > 0, which makes the optimum unique even when the few
    examples are linearly separable (as they nearly always are when p >= n). It is found by L-BFGS
    with a strong-Wolfe line search, in float64 on the CPU, from ``W = 0, b = 0``, on features
    centred at their training mean (a shift that only moves ``b``; the returned ``b`` is for the
    uncentred features), so the same inputs give the same probe. Predictions are
    :math:`\arg\max_c (w_c^\top h + b_c)`.

    Parameters
    ----------
    train_features, train_labels, test_features, test_labels : array or tensor
        As :func:`ncc_probe`.
    weight_decay : float, default 1e-3
        :math:`\lambda`, greater than 0. The features' scale matters: ``lambda`` penalises ``W`` in
        the features' units.
    max_iter : int, default 500
        L-BFGS iterations at most.
    tol : float, default 1e-6
        Stop when the largest entry of the gradient of ``L`` falls below ``tol``; a warning says so
        when ``max_iter`` is reached first (``converged`` is then False).

    Returns
    -------
    ProbeResult
        ``accuracy``, ``predictions``, ``classes``, ``W``, ``b`` and ``converged``.

    Raises
    ------
    ValueError
        As :func:`ncc_probe`, or settings out of range.

    Examples
    --------
    >>> train = np.array([[0.0, 0.0], [0.0, 1.0], [4.0, 0.0], [4.0, 1.0]])
    >>> r = linear_probe(train, [0, 0, 1, 1], np.array([[1.0, 0.5], [3.5, 0.0]]), [0, 1])
    >>> r.accuracy, r.predictions.tolist(), r.converged
    (1.0, [0, 1], True)
    """
    weight_decay = check_real(weight_decay, "weight_decay", minimum=0.0, include_minimum=False)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    tol = check_real(tol, "tol", minimum=0.0, include_minimum=False)
    Htr, idx, Hte, yte, classes = _prepare(train_features, train_labels, test_features, test_labels)
    n, p = Htr.shape
    K = len(classes)
    centre = Htr.mean(0)
    X = Htr - centre
    target = torch.from_numpy(idx)
    W = torch.zeros(K, p, dtype=F64, requires_grad=True)
    b = torch.zeros(K, dtype=F64, requires_grad=True)

    def objective() -> torch.Tensor:
        logits = X @ W.T + b
        return torch.nn.functional.cross_entropy(logits, target) + 0.5 * weight_decay * W.pow(2).sum()

    # max_eval: the line search may take several evaluations per iteration; torch's default
    # (1.25 max_iter) can end the run before max_iter iterations, short of the tolerance
    optimiser = torch.optim.LBFGS([W, b], lr=1.0, max_iter=max_iter, max_eval=10 * max_iter, tolerance_grad=tol,
                                  tolerance_change=0.0, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        value = objective()
        value.backward()
        return value

    with torch.enable_grad():
        optimiser.step(closure)
        optimiser.zero_grad()
        objective().backward()
    gradient = max(float(W.grad.abs().max()), float(b.grad.abs().max()))
    iterations = int(optimiser.state[W].get("n_iter", max_iter))
    converged = math.isfinite(gradient) and gradient <= tol
    if not converged:
        reason = (f"after max_iter={max_iter} iterations" if iterations >= max_iter
                  else f"after {iterations} iterations without further progress")
        warnings.warn(f"linear_probe stopped {reason} with gradient {gradient:.2g} > tol={tol:g}; raise max_iter "
                      "or weight_decay", RuntimeWarning, stacklevel=2)
    W_out = W.detach()
    b_out = b.detach() - W_out @ centre  # for uncentred features: W (h - centre) + b = W h + (b - W centre)
    logits = Hte @ W_out.T + b_out
    predictions = classes[logits.argmax(1).numpy()]
    return ProbeResult(accuracy=float(np.mean(predictions == yte)), predictions=predictions.astype(np.int64),
                       classes=classes.astype(np.int64), W=W_out.numpy(), b=b_out.numpy(), converged=converged)
