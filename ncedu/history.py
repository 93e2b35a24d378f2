"""The record of a training run: every neural-collapse quantity at every measured epoch.

A :class:`History` is what chapters, plots and widgets read. Per measured epoch it holds the
epoch number, the learning rate, train/test loss and accuracy, every metric of
:func:`ncedu.measure` (under the same names), the class means, the classifier ``W`` and ``b``,
and the features of a fixed small sample of training examples per class (for scatter plots
and animations).

It is saved to a single ``.npz`` file, written atomically and read with
``allow_pickle=False`` (a file from elsewhere can never run code), with a format version so
that an older file gives a clear error rather than a wrong plot.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import numpy as np

from ._io import atomic_path
from .metrics import METRIC_NAMES

__all__ = ["History", "HistoryFormatError", "FORMAT_VERSION", "SCALAR_FIELDS", "ARRAY_FIELDS"]

#: Bumped whenever the meaning or layout of a field changes (2: the class counts are stored).
FORMAT_VERSION = 2

#: Per-epoch scalars: training bookkeeping, then every metric of ``ncedu.measure``.
SCALAR_FIELDS = ("epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc") + METRIC_NAMES
#: Per-epoch arrays: class means (C, p), classifier (C, p) and (C,), sampled features (S, p).
ARRAY_FIELDS = ("class_means", "W", "b", "sample_features")


class HistoryFormatError(ValueError):
    """A history file that is not a valid ncedu History of the current format."""


class History:
    """Per-epoch record of a run. ``history["nc1"]`` is a numpy array over the measured epochs.

    Parameters
    ----------
    config : mapping, optional
        JSON-serialisable description of the run (model, data, recipe), saved with it.
    sample_labels : array of shape (S,), optional
        Labels of the sampled training examples whose features are kept at every epoch.
    class_counts : array of shape (C,), optional
        ``n_c``, the number of training samples of each class, so that the global mean is the
        sample mean ``mu_G = sum_c n_c mu_c / N`` (:meth:`global_mean`) for any class sizes;
        :func:`ncedu.train` records them.
    """

    def __init__(self, config: Optional[Mapping[str, Any]] = None, sample_labels: Any = None,
                 class_counts: Any = None) -> None:
        self.config: dict[str, Any] = dict(config or {})
        self.sample_labels = None if sample_labels is None else np.asarray(sample_labels, dtype=np.int64)
        self.class_counts = None if class_counts is None else np.asarray(class_counts, dtype=np.int64)
        if self.class_counts is not None and (self.class_counts.ndim != 1 or np.any(self.class_counts < 1)):
            raise ValueError(f"class_counts must be a 1-D array of positive counts, got {class_counts!r}")
        self._rows: list[dict[str, Any]] = []

    # -- building ----------------------------------------------------------------------------
    def append(self, **values: Any) -> None:
        """Add one measured epoch. Scalars missing from ``values`` are recorded as NaN."""
        unknown = set(values) - set(SCALAR_FIELDS) - set(ARRAY_FIELDS)
        if unknown:
            raise KeyError(f"unknown History field(s) {sorted(unknown)}; known: {SCALAR_FIELDS + ARRAY_FIELDS}")
        if "epoch" not in values:
            raise KeyError("append needs the epoch")
        if self._rows and values["epoch"] <= self._rows[-1]["epoch"]:
            raise ValueError(f"epochs must increase: got {values['epoch']} after {self._rows[-1]['epoch']}")
        row = {k: (np.nan if values.get(k) is None else float(values[k])) for k in SCALAR_FIELDS}
        for k in ARRAY_FIELDS:
            if values.get(k) is not None:
                row[k] = np.asarray(values[k], dtype=np.float32 if k == "sample_features" else np.float64)
        self._rows.append(row)

    # -- reading -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: str) -> bool:
        return key in self.keys()

    def keys(self) -> list[str]:
        """The fields this history holds (scalars always; arrays when recorded)."""
        arrays = [k for k in ARRAY_FIELDS if self._rows and all(k in r for r in self._rows)]
        return list(SCALAR_FIELDS) + arrays

    def __getitem__(self, key: str) -> np.ndarray:
        if key in SCALAR_FIELDS:
            values = np.array([r[key] for r in self._rows], dtype=np.float64)
            return values.astype(np.int64) if key == "epoch" else values
        if key in ARRAY_FIELDS:
            if not self._rows or any(key not in r for r in self._rows):
                raise KeyError(f"this history has no {key!r} at every epoch (it was not recorded)")
            return np.stack([r[key] for r in self._rows])
        raise KeyError(f"unknown History field {key!r}; known: {SCALAR_FIELDS + ARRAY_FIELDS}")

    @property
    def num_classes(self) -> Optional[int]:
        return int(self["class_means"].shape[1]) if "class_means" in self else None

    def global_mean(self) -> np.ndarray:
        """``mu_G`` at every measured epoch, (E, p): the sample mean ``sum_c n_c mu_c / N``.

        Without recorded :attr:`class_counts` (a History built by hand) the classes are taken to
        be balanced, and the mean of the class means is returned.
        """
        means = self["class_means"]
        if self.class_counts is None:
            return means.mean(axis=1)
        if len(self.class_counts) != means.shape[1]:
            raise ValueError(f"class_counts has {len(self.class_counts)} entries but the history has "
                             f"{means.shape[1]} classes")
        weights = self.class_counts / self.class_counts.sum()
        return np.einsum("c,ecp->ep", weights, means)

    def centred_means(self) -> np.ndarray:
        """``M = mu_c - mu_G`` at every measured epoch, (E, C, p), with the sample mean :meth:`global_mean`."""
        return self["class_means"] - self.global_mean()[:, None, :]

    def to_dict(self, arrays: bool = False) -> dict[str, np.ndarray]:
        """Column view: field name -> array over epochs (scalars only unless ``arrays=True``)."""
        keys = self.keys() if arrays else list(SCALAR_FIELDS)
        return {k: self[k] for k in keys}

    def terminal_phase_start(self) -> Optional[int]:
        """The first measured epoch with 100% training accuracy (the start of the terminal phase), or None."""
        acc = self["train_acc"]
        hit = np.flatnonzero(acc >= 1.0)
        return int(self["epoch"][hit[0]]) if hit.size else None

    def at(self, epoch: int) -> dict[str, Any]:
        """Everything recorded at one measured epoch."""
        for r in self._rows:
            if int(r["epoch"]) == epoch:
                return dict(r)
        raise KeyError(f"epoch {epoch} was not measured; measured epochs: {self['epoch'].tolist()}")

    def __repr__(self) -> str:
        if not self._rows:
            return "History(empty)"
        e = self["epoch"]
        return f"History({len(self)} measured epochs {e[0]}..{e[-1]}, final nc1={self['nc1'][-1]:.3g})"

    # -- files -------------------------------------------------------------------------------
    def save(self, path: Union[str, os.PathLike]) -> Path:
        """Write to a single ``.npz`` file atomically (a crash never leaves a half-written file)."""
        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"path must end in .npz, got {str(path)!r}")
        payload: dict[str, np.ndarray] = {
            "format": np.array("ncedu.History"),
            "format_version": np.array(FORMAT_VERSION),
            "config_json": np.array(json.dumps(self.config, sort_keys=True, default=_json_default)),
        }
        if self.sample_labels is not None:
            payload["sample_labels"] = self.sample_labels
        if self.class_counts is not None:
            payload["class_counts"] = self.class_counts
        for k in self.keys():
            payload[k] = self[k]
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **payload)
        return path

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "History":
        """Read a history saved by :meth:`save`. Never unpickles; refuses other or older formats clearly."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
        except FileNotFoundError:
            raise
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
            # numpy's own message for a file it cannot read may suggest allow_pickle=True: never repeat that
            detail = "its format is not numpy's" if "pickle" in str(err).lower() else str(err)
            raise HistoryFormatError(
                f"{path} is not a readable ncedu History file: not an .npz archive of arrays ({detail}); a History "
                "is written by History.save, and ncedu never unpickles files"
            ) from None
        if str(data.get("format", "")) != "ncedu.History":
            raise HistoryFormatError(f"{path} is not an ncedu History file (no 'format' marker)")
        version = int(data.get("format_version", -1))
        if version != FORMAT_VERSION:
            raise HistoryFormatError(
                f"{path} has History format version {version}, but this ncedu reads version {FORMAT_VERSION}; "
                "re-run the experiment to regenerate it (cached runs are regenerated automatically)"
            )
        missing = [k for k in SCALAR_FIELDS if k not in data]
        if missing:
            raise HistoryFormatError(f"{path} lacks the field(s) {missing}")
        n = len(data["epoch"])
        bad = [k for k in SCALAR_FIELDS + ARRAY_FIELDS if k in data and len(data[k]) != n]
        if bad:
            raise HistoryFormatError(f"{path} is inconsistent: field(s) {bad} do not have {n} epochs")
        epochs = np.asarray(data["epoch"])
        if epochs.ndim != 1 or not np.all(np.isfinite(epochs)) or not np.all(epochs == np.round(epochs)):
            raise HistoryFormatError(f"{path} has epochs that are not whole numbers")
        if np.any(np.diff(epochs) <= 0):
            raise HistoryFormatError(f"{path} has epochs that do not increase ({epochs.tolist()[:10]}...)")
        try:
            config = json.loads(str(data["config_json"]))
        except (KeyError, json.JSONDecodeError) as err:
            raise HistoryFormatError(f"{path} has an unreadable config ({err})") from None
        try:
            h = cls(config=config, sample_labels=data.get("sample_labels"), class_counts=data.get("class_counts"))
        except ValueError as err:
            raise HistoryFormatError(f"{path}: {err}") from None
        arrays = [k for k in ARRAY_FIELDS if k in data]
        for i in range(n):
            row = {k: data[k][i] for k in SCALAR_FIELDS}
            row.update({k: data[k][i] for k in arrays})
            row["epoch"] = int(row["epoch"])
            h._rows.append({**{k: float(row[k]) for k in SCALAR_FIELDS}, **{k: row[k] for k in arrays}})
        return h

    # -- state for checkpoints (plain containers of arrays, loadable with weights_only=True) ---
    def state(self) -> dict[str, Any]:
        """The history as strings, floats and torch tensors only (safe for ``torch.load(weights_only=True)``)."""
        import torch

        rows = [{k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in r.items()} for r in self._rows]
        labels = None if self.sample_labels is None else torch.from_numpy(self.sample_labels)
        counts = None if self.class_counts is None else torch.from_numpy(self.class_counts)
        return {"config_json": json.dumps(self.config, default=_json_default), "rows": rows, "sample_labels": labels,
                "class_counts": counts}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> "History":
        """Inverse of :meth:`state`."""
        labels, counts = state["sample_labels"], state.get("class_counts")
        h = cls(config=json.loads(state["config_json"]), sample_labels=None if labels is None else labels.numpy(),
                class_counts=None if counts is None else counts.numpy())
        h._rows = [{k: (v.numpy() if hasattr(v, "numpy") else v) for k, v in r.items()} for r in state["rows"]]
        return h


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.ndarray,)):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)
