"""Reading a :class:`ncedu.History` for figures: the checks every view runs first, and readable labels.

No matplotlib here. :func:`check_history` and friends turn a wrong argument into a message that
names it; :func:`class_names_of`, :func:`run_labels` and :func:`describe_runs` say in words which
classes and which settings a run has, from the configuration it recorded.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from .history import History

__all__ = ["NotAHistoryError", "check_history", "require_scalars", "require_arrays", "epoch_index", "num_classes_of",
           "experiment_config", "dataset_of", "class_names_of", "run_labels", "describe_runs"]


class NotAHistoryError(TypeError, ValueError):
    """An argument that should be an :class:`ncedu.History` is something else.

    Raised by every figure of :mod:`ncedu.viz` and :mod:`ncedu.widgets`; both a ``TypeError``
    (the wrong kind of object) and a ``ValueError`` (as the figures' other input errors), so
    either ``except`` catches it.

    Examples
    --------
    >>> from ncedu.viz import plot_gram
    >>> try:
    ...     plot_gram({"nc1": [1.0, 0.1]})
    ... except NotAHistoryError as err:
    ...     print(isinstance(err, TypeError), isinstance(err, ValueError))
    True True
    """

def check_history(history: Any, *, name: str = "history") -> History:
    if not isinstance(history, History):
        raise NotAHistoryError(
            f"{name} must be an ncedu.History (e.g. from ncedu.train or ncedu.experiments.run), "
            f"got {type(history).__name__}"
        )
    if len(history) == 0:
        raise ValueError(f"{name} is empty: it has no measured epochs to plot")
    return history

def require_scalars(history: History, fields: Sequence[str], *, name: str, purpose: str) -> None:
    for field in fields:
        source = "train_acc" if field == "train_error" else field
        if np.all(np.isnan(history[source])):
            raise ValueError(
                f"{name} lacks the field {source!r} (it is NaN at every epoch, so it was never recorded); "
                f"{purpose} needs it"
            )

def require_arrays(history: History, fields: Sequence[str], *, name: str, purpose: str) -> None:
    missing = [k for k in fields if k not in history]
    if missing:
        raise ValueError(
            f"{name} lacks the field(s) {missing} at some or all epochs; {purpose} needs them "
            "(ncedu.train records them at every measured epoch)"
        )
    if "sample_features" in fields and history.sample_labels is None:
        raise ValueError(f"{name} lacks sample_labels (the labels of its sample_features); {purpose} needs them")

def epoch_index(history: History, epoch: Optional[int]) -> int:
    """Index of a measured epoch (default: the last one); ValueError naming the measured epochs otherwise."""
    epochs = history["epoch"]
    if epoch is None:
        return len(epochs) - 1
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)):
        raise ValueError(f"epoch must be an integer (a measured epoch), got {epoch!r}")
    hit = np.flatnonzero(epochs == int(epoch))
    if hit.size == 0:
        shown = ", ".join(str(e) for e in epochs.tolist())
        raise ValueError(f"epoch {epoch} was not measured; measured epochs: {shown}")
    return int(hit[0])

def num_classes_of(history: History) -> Optional[int]:
    if "class_means" in history:
        return int(history["class_means"].shape[1])
    C = history.config.get("num_classes")
    if C is None and history.sample_labels is not None and history.sample_labels.size:
        C = int(history.sample_labels.max()) + 1
    return None if C is None else int(C)

_BOOKKEEPING_KEYS = ("data_fingerprint", "measure_epochs")

# well-known config keys, shown first (and in this order) when labelling overlaid runs
_KEY_ORDER = ("dataset", "loss", "weight_decay", "width", "depth", "batch_norm", "model", "lr", "per_class", "epochs")

def experiment_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The experiment's settings: nested under "experiment" by ncedu.experiments, else the config itself."""
    nested = config.get("experiment")
    return nested if isinstance(nested, Mapping) else config

def dataset_of(config: Mapping[str, Any]) -> Optional[str]:
    dataset = experiment_config(config).get("dataset")
    return None if dataset is None else str(dataset)

def class_names_of(history: History, num_classes: int) -> tuple[str, ...]:
    """The dataset's class names when the config names a known dataset with this many classes, else 'class c'."""
    from . import data

    names: tuple[str, ...] = ()
    dataset = dataset_of(history.config)
    if dataset is not None:
        try:
            names = tuple(data.class_names(dataset))
        except (ValueError, KeyError):
            names = ()
        chosen = experiment_config(history.config).get("classes")  # a run on a subset of the classes
        if names and chosen is not None:
            names = tuple(names[int(c)] for c in chosen if 0 <= int(c) < len(names))
    if len(names) != num_classes or all(n.isdigit() for n in names):
        names = tuple(f"class {c}" for c in range(num_classes))
    return names

def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out

def _format_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)

def _config_key_rank(key: str) -> tuple[int, str]:
    leaf = key.rsplit(".", 1)[-1]
    return (_KEY_ORDER.index(leaf) if leaf in _KEY_ORDER else len(_KEY_ORDER), key)

def run_labels(histories: Sequence[History], max_keys: int = 3) -> list[str]:
    """Readable labels for overlaid runs: the (at most ``max_keys``) config settings in which they differ.

    Nested configs (``{"experiment": {...}}`` as :func:`ncedu.experiments.run` records) are
    flattened, and a setting recorded twice under different paths is shown once. Runs whose
    configs do not differ are labelled ``"run 1"``, ``"run 2"``, ...

    Parameters
    ----------
    histories : sequence of History
        The runs, in legend order.
    max_keys : int, default 3
        At most this many differing settings per label.

    Returns
    -------
    list of str
        One label per run.

    Examples
    --------
    >>> runs = [History({"lr": 0.1, "seed": 0}), History({"lr": 0.01, "seed": 0})]
    >>> run_labels(runs)
    ['lr 0.1', 'lr 0.01']
    >>> run_labels([History(), History()])
    ['run 1', 'run 2']
    """
    # settings only: where a run was computed (torch version, device, threads) is not what it is about,
    # and the data's fingerprint and the list of measured epochs make unreadable labels
    flat = [{k: v for k, v in _flatten(h.config).items()
             if not k.startswith("provenance.") and k not in _BOOKKEEPING_KEYS} for h in histories]
    keys = sorted(set().union(*flat), key=_config_key_rank)
    shown: dict[tuple[str, tuple[str, ...]], str] = {}
    for key in keys:
        values = tuple(_format_value(f.get(key, "—")) for f in flat)
        leaf = key.rsplit(".", 1)[-1]
        if len(set(values)) > 1 and (leaf, values) not in shown:
            shown[(leaf, values)] = leaf
    chosen = list(shown)[:max_keys]
    if not chosen:
        return [f"run {i + 1}" for i in range(len(histories))]
    return [
        ", ".join(f"{leaf.replace('_', ' ')} {values[i]}" for leaf, values in chosen) for i in range(len(histories))
    ]

def describe_runs(histories: Sequence[History]) -> str:
    """A one-line summary of the main settings the runs share, for titles."""
    flats = [{k.rsplit(".", 1)[-1]: _format_value(v) for k, v in _flatten(h.config).items()} for h in histories]
    shared = [k for k in _KEY_ORDER[:6] if all(k in f and f[k] == flats[0][k] for f in flats)]
    return ", ".join(f"{k.replace('_', ' ')} {flats[0][k]}" for k in shared)
