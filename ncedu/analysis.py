r"""What a recorded run says beyond its metrics: logits, margins, angles, and its recipe.

A :class:`ncedu.History` keeps, at every measured epoch, the classifier ``(W, b)`` and the
features ``h_i`` of a fixed sample of training examples (``sample_features``, with
``sample_labels``). The chapters compute more from that record than the NC metrics; the
computations live here, each with its formula:

* :func:`sample_logits`, :func:`margins_and_losses`: the logits ``z_i = W h_i + b`` of the sampled
  examples, their logit margins ``m_i = z_{i,y_i} - max_{c != y_i} z_{i,c}`` and cross-entropy
  losses (chapter 2);
* :func:`terminal_phase_summary`, :func:`zero_from`: a run's terminal phase in a few numbers
  (chapters 2 and 6);
* :func:`classifier_angles`: the angles of the centred sampled features to the classifier rows,
  the norms, and the cross-entropy gradient on the features, epoch by epoch (chapter 9);
* :func:`weight_decay_memory`: how much of a weight survives the recipe's weight decay alone
  (chapter 5);
* :func:`ncc_margins`: how far features are from the nearest-class-centre boundaries (chapter 6);
* :func:`mcnemar_p`, :func:`mcnemar_splits`: the exact McNemar test, and the p-values a change of
  test accuracy allows when the per-image predictions are not recorded (chapter 2).

Everything is float64 numpy.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

import numpy as np

from ._validation import ArrayLike, check_int
from .history import History

__all__ = [
    "sample_logits",
    "margins_and_losses",
    "terminal_phase_summary",
    "zero_from",
    "classifier_angles",
    "weight_decay_memory",
    "ncc_margins",
    "mcnemar_p",
    "mcnemar_splits",
]


def _history(history: Any, fields: tuple[str, ...]) -> History:
    if not isinstance(history, History):
        raise TypeError(f"history must be an ncedu.History, got {type(history).__name__}")
    if len(history) == 0:
        raise ValueError("history is empty: it has no measured epochs")
    missing = [k for k in fields if k not in history]
    if missing:
        raise ValueError(f"history lacks the field(s) {missing} at some or all epochs (ncedu.train records them)")
    if "sample_features" in fields and history.sample_labels is None:
        raise ValueError("history lacks sample_labels, the labels of its sample_features")
    return history


def sample_logits(history: History) -> np.ndarray:
    r"""The logits :math:`z_i = W h_i + b` of the sampled training examples at every measured epoch.

    Parameters
    ----------
    history : History
        With ``sample_features``, ``W`` and ``b`` recorded (as :func:`ncedu.train` does).

    Returns
    -------
    numpy.ndarray of shape (E, S, C)
        Epoch, sampled example, class.

    Examples
    --------
    >>> h = History(sample_labels=[0, 1])
    >>> h.append(epoch=1, sample_features=np.eye(2), W=2 * np.eye(2), b=np.zeros(2), class_means=np.eye(2))
    >>> sample_logits(h)[0].tolist()
    [[2.0, 0.0], [0.0, 2.0]]
    """
    h = _history(history, ("sample_features", "W", "b"))
    H = h["sample_features"].astype(np.float64)
    return H @ np.swapaxes(h["W"], 1, 2) + h["b"][:, None, :]


def margins_and_losses(history: History) -> tuple[np.ndarray, np.ndarray]:
    r"""Logit margins and cross-entropy losses of the sampled examples at every measured epoch.

    .. math::

        m_i = z_{i,y_i} - \max_{c \ne y_i} z_{i,c}, \qquad
        \ell_i = -\log \frac{e^{z_{i,y_i}}}{\sum_c e^{z_{i,c}}}

    (Papyan, Han & Donoho 2020 define the terminal phase through ``min_i m_i > 0``; the book's
    chapter 2 proves :math:`\log(1 + e^{-m_i}) \le \ell_i \le \log(1 + (C-1)e^{-m_i})`). The loss is
    computed as :math:`\log\sum_c e^{z_{i,c}} - z_{i,y_i}` with a stable log-sum-exp: no overflow for
    large logits, and an absolute error of the order of rounding (so a loss below about ``1e-12``
    has few correct digits).

    Parameters
    ----------
    history : History
        With ``sample_features``, ``sample_labels``, ``W`` and ``b``.

    Returns
    -------
    margins, losses : numpy.ndarray of shape (E, S)

    Examples
    --------
    >>> h = History(sample_labels=[0, 1])
    >>> h.append(epoch=1, sample_features=np.eye(2), W=2 * np.eye(2), b=np.zeros(2), class_means=np.eye(2))
    >>> m, ell = margins_and_losses(h)
    >>> m.tolist(), bool(np.allclose(ell, np.log1p(np.exp(-2.0))))
    ([[2.0, 2.0]], True)
    """
    Z = sample_logits(history)
    y = history.sample_labels
    z_true = np.take_along_axis(Z, y[None, :, None], axis=2)[..., 0]
    z_other = np.where(np.arange(Z.shape[2]) == y[:, None], -np.inf, Z).max(axis=2)
    log_softmax = Z - np.logaddexp.reduce(Z, axis=2, keepdims=True)
    return z_true - z_other, -np.take_along_axis(log_softmax, y[None, :, None], axis=2)[..., 0]


def terminal_phase_summary(history: History) -> dict[str, Any]:
    r"""A run's terminal phase in a few numbers.

    Parameters
    ----------
    history : History
        With ``sample_features``, ``W`` and ``b`` (for the margins).

    Returns
    -------
    dict
        ``tpt``: the first measured epoch with 100% training accuracy
        (:meth:`~ncedu.History.terminal_phase_start`), or None; ``loss_tpt`` and ``loss_end``: the training
        loss there (NaN without a terminal phase) and at the last epoch; ``margin_end``: the median
        logit margin of the sampled examples at the last epoch (:func:`margins_and_losses`);
        ``W_growth``: :math:`\|W\|_F` at the end over its value at ``tpt`` (NaN without one);
        ``nc1_fall``: NC1 at the first measured epoch over NC1 at the last; ``nc1_tpt_fall`` and
        ``nc3_tpt_fall``: the same from ``tpt`` to the end (NaN without a terminal phase).

    Examples
    --------
    >>> h = History(sample_labels=[0, 1])
    >>> for e, acc, nc1 in [(1, 0.5, 1.0), (2, 1.0, 0.5), (3, 1.0, 0.1)]:
    ...     h.append(epoch=e, train_acc=acc, train_loss=1 / e, nc1=nc1, nc3=nc1, sample_features=np.eye(2),
    ...              W=e * np.eye(2), b=np.zeros(2), class_means=np.eye(2))
    >>> s = terminal_phase_summary(h)
    >>> s["tpt"], round(float(s["W_growth"]), 6), round(float(s["nc1_tpt_fall"]), 6)
    (2, 1.5, 5.0)
    """
    h = _history(history, ("sample_features", "W", "b"))
    t = h.terminal_phase_start()
    k = None if t is None else int(np.flatnonzero(h["epoch"] == t)[0])
    norm_W = np.linalg.norm(h["W"], axis=(1, 2))
    fall = lambda field: np.nan if k is None else h[field][k] / h[field][-1]
    return {"tpt": t, "loss_tpt": np.nan if k is None else h["train_loss"][k], "loss_end": h["train_loss"][-1],
            "margin_end": float(np.median(margins_and_losses(h)[0][-1])),
            "W_growth": np.nan if k is None else norm_W[-1] / norm_W[k], "nc1_fall": h["nc1"][0] / h["nc1"][-1],
            "nc1_tpt_fall": fall("nc1"), "nc3_tpt_fall": fall("nc3")}


def zero_from(history: History, field: str = "nc4") -> Optional[int]:
    """The first measured epoch from which ``field`` is 0 at every later measured epoch.

    Parameters
    ----------
    history : History
    field : str, default "nc4"
        A scalar field of the History.

    Returns
    -------
    int or None
        None if the field is not 0 at the last measured epoch.

    Examples
    --------
    >>> h = History()
    >>> for e, v in [(1, 0.3), (2, 0.0), (3, 0.1), (4, 0.0), (5, 0.0)]:
    ...     h.append(epoch=e, nc4=v)
    >>> zero_from(h)
    4
    """
    h = _history(history, ())
    nonzero = np.flatnonzero(h[field] != 0)
    if nonzero.size == 0:
        return int(h["epoch"][0])
    return None if nonzero[-1] == len(h) - 1 else int(h["epoch"][nonzero[-1] + 1])


def _unit_rows(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def _feature_gradients(H: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row i: the gradient of sample i's own cross-entropy with respect to h_i, by torch's autograd."""
    import torch

    H_t = torch.tensor(H, dtype=torch.float64, requires_grad=True)
    scores = H_t @ torch.tensor(W, dtype=torch.float64).T + torch.tensor(b, dtype=torch.float64)
    torch.nn.functional.cross_entropy(scores, torch.as_tensor(y), reduction="sum").backward()
    return H_t.grad.numpy()                      # loss i depends on h_i only


def classifier_angles(history: History) -> dict[str, np.ndarray]:
    r"""Angles, norms and cross-entropy gradients of the sampled features at every measured epoch.

    With :math:`\mu_G` the global mean (:meth:`~ncedu.History.global_mean`), centred features
    :math:`\tilde h_i = h_i - \mu_G` and centred means :math:`m_c = \mu_c - \mu_G`, per epoch:

    * ``own`` (E, 3): the 10th, 50th and 90th percentiles over samples of :math:`\cos(\tilde h_i, w_{y_i})`;
    * ``own_raw`` (E,): the median of :math:`\cos(h_i, w_{y_i})` (raw features);
    * ``rival`` (E,): the median of :math:`\max_{c \ne y_i} \cos(\tilde h_i, w_c)`;
    * ``mean_cos`` (E,): :math:`\min_c \cos(m_c, w_c)`;
    * ``w``, ``m``, ``h`` (E,): the averages of :math:`\|w_c\|`, :math:`\|m_c\|` and :math:`\|\tilde h_i\|`;
    * ``grad`` (E,): the median of :math:`\|g_i\|`, with :math:`g_i = \nabla_{h_i}\ell_i = W^\top(p_i - e_{y_i})`
      the gradient of sample i's own cross-entropy (computed by torch's autograd);
    * ``grad_cos`` (E,): the median of :math:`\cos(-g_i, m_{y_i})`, which is 1 at exact collapse on a
      simplex ETF with a self-dual classifier (chapter 9).

    Parameters
    ----------
    history : History
        With ``sample_features``, ``sample_labels``, ``W``, ``b`` and ``class_means``.

    Returns
    -------
    dict of numpy.ndarray

    Examples
    --------
    >>> E = np.array([[1.0, 0.0], [-1.0, 0.0]])          # two collapsed classes, a self-dual classifier
    >>> h = History(sample_labels=[0, 0, 1, 1], class_counts=[2, 2])
    >>> h.append(epoch=1, sample_features=E[[0, 0, 1, 1]], W=E, b=np.zeros(2), class_means=E)
    >>> stats = classifier_angles(h)
    >>> stats["own"][0].tolist(), float(stats["rival"][0]), float(stats["grad_cos"][0])
    ([1.0, 1.0, 1.0], -1.0, 1.0)
    """
    h = _history(history, ("sample_features", "W", "b", "class_means"))
    labels = h.sample_labels
    idx = np.arange(len(labels))
    keys = ["own", "own_raw", "rival", "mean_cos", "w", "m", "h", "grad", "grad_cos"]
    stats: dict[str, list] = {key: [] for key in keys}
    centres = h.global_mean()
    for e in range(len(h)):
        H, W, b, means = (h[key][e].astype(np.float64) for key in ("sample_features", "W", "b", "class_means"))
        Hc, Mc = H - centres[e], means - centres[e]
        cos_all = _unit_rows(Hc) @ _unit_rows(W).T                       # (samples, classes)
        stats["own"].append(np.quantile(cos_all[idx, labels], [0.1, 0.5, 0.9]))
        stats["own_raw"].append(np.median(np.sum(_unit_rows(H) * _unit_rows(W[labels]), axis=1)))
        cos_all[idx, labels] = -np.inf                                   # leave out the own row
        stats["rival"].append(np.median(cos_all.max(axis=1)))
        stats["mean_cos"].append(np.min(np.sum(_unit_rows(Mc) * _unit_rows(W), axis=1)))
        stats["w"].append(np.linalg.norm(W, axis=1).mean())
        stats["m"].append(np.linalg.norm(Mc, axis=1).mean())
        stats["h"].append(np.linalg.norm(Hc, axis=1).mean())
        g = _feature_gradients(H, labels, W, b)
        stats["grad"].append(np.median(np.linalg.norm(g, axis=1)))
        stats["grad_cos"].append(np.median(np.sum(_unit_rows(-g) * _unit_rows(Mc[labels]), axis=1)))
    return {key: np.array(value) for key, value in stats.items()}


def weight_decay_memory(config: Mapping[str, Any]) -> np.ndarray:
    r"""How much of a weight survives the weight decay of a training recipe alone, epoch by epoch.

    Follows ``torch.optim.SGD`` with momentum ``mu``, weight decay ``omega`` and learning rate
    ``eta_t`` on a weight that gets no gradient from the loss (as the component of the classifier
    rows that the cross-entropy does not see, chapter 5):

    .. math::

        v \leftarrow \mu v + \omega w, \qquad w \leftarrow w - \eta_t v,

    from ``w = 1``, ``v = 0``, for ``ceil(num_train / batch_size)`` steps per epoch, with the
    learning rate multiplied by ``lr_decay`` after each epoch of ``lr_milestones``.

    Parameters
    ----------
    config : mapping
        A run's ``History.config`` (or any mapping) with ``lr``, ``weight_decay``, ``momentum``,
        ``num_train``, ``batch_size``, ``epochs``, ``lr_decay`` and ``lr_milestones``.

    Returns
    -------
    numpy.ndarray of shape (epochs + 1,)
        ``D[t]``, the surviving fraction at the end of epoch ``t`` (``D[0] = 1``).

    Examples
    --------
    >>> cfg = dict(lr=0.1, weight_decay=0.5, momentum=0.0, num_train=4, batch_size=2, epochs=2,
    ...            lr_decay=0.1, lr_milestones=[])
    >>> weight_decay_memory(cfg).round(6).tolist()      # (1 - 0.05) ** 2 per epoch
    [1.0, 0.9025, 0.814506]
    """
    missing = [k for k in ("lr", "weight_decay", "momentum", "num_train", "batch_size", "epochs", "lr_decay",
                           "lr_milestones") if k not in config]
    if missing:
        raise ValueError(f"config lacks {missing} (ncedu.train records them in History.config)")
    lr, wd, m = config["lr"], config["weight_decay"], config["momentum"]
    steps = -(-check_int(config["num_train"], "config['num_train']", minimum=1)
              // check_int(config["batch_size"], "config['batch_size']", minimum=1))      # batches per epoch
    w, buffer, D = 1.0, 0.0, [1.0]
    for epoch in range(1, check_int(config["epochs"], "config['epochs']", minimum=0) + 1):
        lr_epoch = lr * config["lr_decay"] ** sum(epoch > e for e in config["lr_milestones"])
        for _ in range(steps):
            buffer = m * buffer + wd * w
            w -= lr_epoch * buffer
        D.append(w)
    return np.array(D)


def ncc_margins(features: ArrayLike, class_means: ArrayLike, scale: Optional[float] = None) -> np.ndarray:
    r"""How far each feature is from the nearest-class-centre boundaries, in units of the means' radius.

    .. math::

        \frac{d_{\mathrm{2nd}}^2 - d_{\mathrm{1st}}^2}{r^2}
        = \frac{2\,(s_{\mathrm{1st}} - s_{\mathrm{2nd}})}{r^2}, \qquad
        s_c(h) = \mu_c^\top h - \tfrac12\|\mu_c\|^2 ,

    with :math:`d_{\mathrm{1st}} \le d_{\mathrm{2nd}}` the two smallest distances
    :math:`\|h - \mu_c\|` (ranked by the scores :math:`s_c`, since
    :math:`\|h - \mu_c\|^2 = \|h\|^2 - 2 s_c(h)`) and ``r = scale``, by default the average distance of
    the class means from their mean. Zero on a boundary of the nearest-class-centre cells.

    Parameters
    ----------
    features : array of shape (N, p)
    class_means : array of shape (C, p)
        ``C >= 2``.
    scale : float, optional
        ``r > 0``.

    Returns
    -------
    numpy.ndarray of shape (N,)

    Examples
    --------
    >>> ncc_margins([[0.5, 0.0], [0.0, 0.0]], [[1.0, 0.0], [-1.0, 0.0]]).tolist()
    [2.0, 0.0]
    """
    H = np.asarray(features, dtype=np.float64)
    mu = np.asarray(class_means, dtype=np.float64)
    if H.ndim != 2 or mu.ndim != 2 or H.shape[1] != mu.shape[1] or mu.shape[0] < 2:
        raise ValueError(f"features (N, p) and class_means (C >= 2, p) must share p; got {H.shape} and {mu.shape}")
    r = np.linalg.norm(mu - mu.mean(axis=0), axis=1).mean() if scale is None else float(scale)
    if not r > 0:
        raise ValueError(f"scale must be positive (the class means coincide?), got {r}")
    s = np.sort(H @ mu.T - 0.5 * np.sum(mu ** 2, axis=1), axis=1)
    return 2 * (s[:, -1] - s[:, -2]) / r ** 2


def mcnemar_p(b: int, c: int) -> float:
    r"""The exact two-sided McNemar p-value for ``b`` and ``c`` discordant pairs.

    Under the null hypothesis the ``b + c`` discordant items split as
    :math:`b \sim \mathrm{Binomial}(b + c, \tfrac12)`, so
    :math:`p = \min\bigl(1, 2\sum_{j \ge \max(b, c)} \binom{b+c}{j} 2^{-(b+c)}\bigr)` (McNemar 1947; the
    exact binomial form).

    Parameters
    ----------
    b, c : int
        ``>= 0``: items wrong before and right after, and the reverse.

    Returns
    -------
    float

    Examples
    --------
    >>> mcnemar_p(0, 0), mcnemar_p(5, 0)
    (1.0, 0.0625)
    """
    b = check_int(b, "b", minimum=0)
    c = check_int(c, "c", minimum=0)
    n = b + c
    return min(1.0, 2 * sum(math.comb(n, j) for j in range(max(b, c), n + 1)) / 2 ** n)


def mcnemar_splits(errors_start: int, errors_end: int) -> tuple[list[tuple[int, int]], list[float]]:
    """Every split ``(b, c)`` of discordant test items that two error counts allow, and its p-value.

    A run's record holds only the number of test errors at two epochs, not which images were
    wrong. With ``b`` images wrong at the start and right at the end and ``c`` the reverse,
    ``b - c`` is the net gain ``errors_start - errors_end``, ``b <= errors_start`` and
    ``c <= errors_end``; each such split gives a :func:`mcnemar_p`.

    Parameters
    ----------
    errors_start, errors_end : int
        ``>= 0``.

    Returns
    -------
    splits : list of (b, c)
    p_values : list of float

    Examples
    --------
    >>> mcnemar_splits(3, 1)[0]
    [(2, 0), (3, 1)]
    """
    errors_start = check_int(errors_start, "errors_start", minimum=0)
    errors_end = check_int(errors_end, "errors_end", minimum=0)
    gained = errors_start - errors_end
    splits = [(gained + c, c) for c in range(max(0, -gained), errors_end + 1) if gained + c <= errors_start]
    return splits, [mcnemar_p(b, c) for b, c in splits]
