"""The record of a training run: every neural-collapse quantity at every measured epoch.

A :class:`History` is what chapters, plots and widgets read. Per measured epoch it holds the
epoch number, the learning rate, train/test loss and accuracy, every metric of
:func:`ncedu.measure` (under the same names), the class means, the classifier ``W`` and ``b``,
and the features of a fixed small sample of training examples per class (for scatter plots
and animations). When :func:`ncedu.train` is given test data it also holds the metrics of the
test features (:data:`TEST_FIELDS`, NaN otherwise), and with ``record_layers`` the metrics of
chosen layers (:data:`LAYER_FIELDS`, one value per layer, the names in :attr:`History.layers`).

It is saved to a single ``.npz`` file, written atomically and read with
``allow_pickle=False`` (a file from elsewhere can never run code), with a format version so
that an older file gives a clear error rather than a wrong plot.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from ._io import atomic_path
from ._validation import ArrayLike
from .metrics import METRIC_NAMES

__all__ = ["History", "HistoryFormatError", "FORMAT_VERSION", "SCALAR_FIELDS", "ARRAY_FIELDS", "TEST_FIELDS",
           "LAYER_FIELDS"]

#: Bumped whenever the meaning or layout of a field changes (2: the class counts are stored; 3: the
#: test-set metrics, and the layers' metrics with the layer names).
FORMAT_VERSION = 3

#: Per-epoch scalars measured on the *test* features when :func:`ncedu.train` is given test data
#: (NaN otherwise): ``test_nc1``, the ``test_nc2_*_means``, ``test_nc3``, ``test_nc1_trace_ratio`` and
#: ``test_cdnv`` as :func:`ncedu.measure` on the test features with the test set's own class means
#: and sample mean; ``test_nc4`` the fraction of test samples whose network decision differs from
#: the nearest *training* class mean (the paper's NCC off the training set). The NC2 of the
#: classifier rows is the same on any data, so it is not repeated.
TEST_FIELDS = ("test_nc1", "test_nc2_equinorm_means", "test_nc2_equiangular_means", "test_nc2_maxangle_means",
               "test_nc3", "test_nc4", "test_nc1_trace_ratio", "test_cdnv")
#: Per-epoch scalars: training bookkeeping, every metric of ``ncedu.measure``, the test-set metrics.
SCALAR_FIELDS = ("epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc") + METRIC_NAMES + TEST_FIELDS
#: Per-epoch arrays: class means (C, p), classifier (C, p) and (C,), sampled features (S, p).
ARRAY_FIELDS = ("class_means", "W", "b", "sample_features")
#: Per-epoch arrays of shape (L,), one value per recorded layer (``train(..., record_layers=...)``, names in
#: :attr:`~ncedu.History.layers`), measured on the training features of each layer by :func:`ncedu.measure_layers`:
#: ``layer_nc1``, He & Su's separation fuzziness ``layer_fuzziness`` (``Tr(SS_w SS_b^+)``, ``C * nc1``
#: for balanced classes), the NC2 of the layer's centred means, ``layer_nc1_trace_ratio`` and
#: ``layer_cdnv``.
LAYER_FIELDS = ("layer_nc1", "layer_fuzziness", "layer_nc2_equinorm_means", "layer_nc2_equiangular_means",
                "layer_nc2_maxangle_means", "layer_nc1_trace_ratio", "layer_cdnv")
_ARRAYS = ARRAY_FIELDS + LAYER_FIELDS


class HistoryFormatError(ValueError):
    """A history file that is not a valid ncedu History of the current format.

    Raised by :meth:`~ncedu.History.load` for a file that is not an ``.npz`` archive, lacks the History
    marker or fields, is inconsistent, or has another :data:`~ncedu.history.FORMAT_VERSION`; a ``ValueError``.

    Examples
    --------
    >>> _ = open("notes.npz", "w").write("not an archive")
    >>> try:
    ...     History.load("notes.npz")
    ... except HistoryFormatError as err:
    ...     print(str(err)[:46])
    notes.npz is not a readable ncedu History file
    """


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
    layers : sequence of str, optional
        The names of the layers whose metrics :data:`~ncedu.history.LAYER_FIELDS` hold, in their order.

    Attributes
    ----------
    config : dict
        The run's description (what :func:`ncedu.viz.run_labels` and the cache read).
    sample_labels : numpy.ndarray of shape (S,), int64, or None
        As given.
    class_counts : numpy.ndarray of shape (C,), int64, or None
        As given.
    layers : tuple of str or None
        As given; ``history["layer_nc1"][:, history.layers.index(name)]`` is one layer's NC1.

    Notes
    -----
    Reading: ``history[field]`` stacks a field over the measured epochs (:data:`~ncedu.history.SCALAR_FIELDS`
    give shape (E,), ``epoch`` as int64; :data:`~ncedu.history.ARRAY_FIELDS` give (E, ...)); ``len(history)`` is
    E, ``field in history`` and :meth:`keys` say what was recorded, :meth:`at` gives one epoch,
    :meth:`to_dict` all columns, :meth:`global_mean` and :meth:`centred_means` the centring of
    the paper and :meth:`terminal_phase_start` the first epoch at 100% training accuracy.
    Building: :meth:`append` (what :func:`ncedu.train` calls). Files: :meth:`save` and
    :meth:`load` (``.npz``), :meth:`state` and :meth:`from_state` (inside checkpoints).

    Examples
    --------
    >>> h = History({"model": "toy"}, class_counts=[3, 1])
    >>> for epoch, acc in [(1, 0.5), (2, 1.0), (4, 1.0)]:
    ...     h.append(epoch=epoch, train_acc=acc, nc1=1.0 / epoch,
    ...              class_means=[[0.0, 0.0], [4.0 * epoch, 0.0]])
    >>> h["epoch"], h["nc1"], h.terminal_phase_start()
    (array([1, 2, 4]), array([1.  , 0.5 , 0.25]), 2)
    >>> h.global_mean()[0], h.centred_means().shape   # the sample mean: (3 * 0 + 1 * 4) / 4
    (array([1., 0.]), (3, 2, 2))
    >>> H = History.load(h.save("toy.npz"))
    >>> H.config, H.num_classes, np.array_equal(H["class_means"], h["class_means"])
    ({'model': 'toy'}, 2, True)
    """

    def __init__(self, config: Optional[Mapping[str, Any]] = None, sample_labels: Optional[ArrayLike] = None,
                 class_counts: Optional[ArrayLike] = None, layers: Optional[Sequence[str]] = None) -> None:
        self.config: dict[str, Any] = dict(config or {})
        self.layers: Optional[tuple[str, ...]] = None if layers is None else tuple(layers)
        if self.layers is not None and (not all(isinstance(n, str) for n in self.layers)
                                        or len(set(self.layers)) != len(self.layers)):
            raise ValueError(f"layers must be distinct layer names (str), got {layers!r}")
        self.sample_labels = None if sample_labels is None else np.asarray(sample_labels, dtype=np.int64)
        self.class_counts = None if class_counts is None else np.asarray(class_counts, dtype=np.int64)
        if self.class_counts is not None and (self.class_counts.ndim != 1 or np.any(self.class_counts < 1)):
            raise ValueError(f"class_counts must be a 1-D array of positive counts, got {class_counts!r}")
        self._rows: list[dict[str, Any]] = []

    # -- building ----------------------------------------------------------------------------
    def append(self, **values: Any) -> None:
        """Add one measured epoch; scalars missing from ``values`` are recorded as NaN.

        Parameters
        ----------
        **values
            ``epoch`` (required, larger than the last one), any of :data:`~ncedu.history.SCALAR_FIELDS` as
            numbers and any of :data:`~ncedu.history.ARRAY_FIELDS` as arrays (``sample_features`` kept in
            float32, the others in float64). An array field must be given at every epoch to be
            readable.

        Raises
        ------
        KeyError
            For an unknown field or a missing ``epoch``.
        ValueError
            If the epoch does not increase.
        """
        unknown = set(values) - set(SCALAR_FIELDS) - set(_ARRAYS)
        if unknown:
            raise KeyError(f"unknown History field(s) {sorted(unknown)}; known: {SCALAR_FIELDS + _ARRAYS}")
        for k in LAYER_FIELDS:
            if values.get(k) is not None:
                if self.layers is None:
                    raise ValueError(f"{k} was given but this History has no layers; create it with layers=[names]")
                if np.shape(values[k]) != (len(self.layers),):
                    raise ValueError(f"{k} must have one value per layer, shape ({len(self.layers)},), "
                                     f"got shape {np.shape(values[k])}")
        if "epoch" not in values:
            raise KeyError("append needs the epoch")
        if self._rows and values["epoch"] <= self._rows[-1]["epoch"]:
            raise ValueError(f"epochs must increase: got {values['epoch']} after {self._rows[-1]['epoch']}")
        row = {k: (np.nan if values.get(k) is None else float(values[k])) for k in SCALAR_FIELDS}
        for k in _ARRAYS:
            if values.get(k) is not None:
                row[k] = np.asarray(values[k], dtype=np.float32 if k == "sample_features" else np.float64)
        self._rows.append(row)

    # -- reading -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: str) -> bool:
        return key in self.keys()

    def keys(self) -> list[str]:
        """The fields this history holds (scalars always; arrays when recorded at every epoch).

        Returns
        -------
        list of str
            :data:`~ncedu.history.SCALAR_FIELDS`, then the recorded :data:`~ncedu.history.ARRAY_FIELDS` and
            :data:`~ncedu.history.LAYER_FIELDS`.
        """
        arrays = [k for k in _ARRAYS if self._rows and all(k in r for r in self._rows)]
        return list(SCALAR_FIELDS) + arrays

    def __getitem__(self, key: str) -> np.ndarray:
        if key in SCALAR_FIELDS:
            values = np.array([r[key] for r in self._rows], dtype=np.float64)
            return values.astype(np.int64) if key == "epoch" else values
        if key in _ARRAYS:
            if not self._rows or any(key not in r for r in self._rows):
                hint = " (train with record_layers=[names] to record layers)" if key in LAYER_FIELDS else ""
                raise KeyError(f"this history has no {key!r} at every epoch (it was not recorded){hint}")
            return np.stack([r[key] for r in self._rows])
        raise KeyError(f"unknown History field {key!r}; known: {SCALAR_FIELDS + _ARRAYS}")

    @property
    def num_classes(self) -> Optional[int]:
        """``C``, from the recorded class means (None when they were not recorded)."""
        return int(self["class_means"].shape[1]) if "class_means" in self else None

    def global_mean(self) -> np.ndarray:
        """``mu_G`` at every measured epoch: the sample mean ``sum_c n_c mu_c / N``.

        Without recorded :attr:`class_counts` (a History built by hand) the classes are taken to
        be balanced, and the mean of the class means is returned.

        Returns
        -------
        numpy.ndarray of shape (E, p), float64
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
        """``M = mu_c - mu_G`` at every measured epoch, centred at the sample mean :meth:`global_mean`.

        Returns
        -------
        numpy.ndarray of shape (E, C, p), float64
            The rows NC2 and NC3 are measured on, epoch by epoch.
        """
        return self["class_means"] - self.global_mean()[:, None, :]

    def to_dict(self, arrays: bool = False) -> dict[str, np.ndarray]:
        """Column view: field name -> array over the measured epochs.

        Parameters
        ----------
        arrays : bool, default False
            Include the recorded array fields too (else the scalars only).

        Returns
        -------
        dict of str to numpy.ndarray
        """
        keys = self.keys() if arrays else list(SCALAR_FIELDS)
        return {k: self[k] for k in keys}

    def terminal_phase_start(self) -> Optional[int]:
        """The first measured epoch with 100% training accuracy: the start of the terminal phase.

        The terminal phase of training begins at the epoch where the training error first
        vanishes (Papyan, Han & Donoho 2020); here the first *measured* such epoch.

        Returns
        -------
        int or None
            None if the training accuracy never reached 1.
        """
        acc = self["train_acc"]
        hit = np.flatnonzero(acc >= 1.0)
        return int(self["epoch"][hit[0]]) if hit.size else None

    def at(self, epoch: int) -> dict[str, Any]:
        """Everything recorded at one measured epoch.

        Parameters
        ----------
        epoch : int
            A measured epoch (a ``KeyError`` lists them otherwise).

        Returns
        -------
        dict
            Field name -> float or array, as appended.
        """
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
        """Write to a single ``.npz`` file atomically (a crash never leaves a half-written file).

        Parameters
        ----------
        path : str or os.PathLike
            Ending in ``.npz``.

        Returns
        -------
        pathlib.Path
            ``path``.
        """
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
        if self.layers is not None:
            payload["layer_names"] = np.array(self.layers, dtype=str)
        for k in self.keys():
            payload[k] = self[k]
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **payload)
        return path

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "History":
        """Read a history saved by :meth:`save`; never unpickles, and refuses other or older formats clearly.

        Parameters
        ----------
        path : str or os.PathLike
            An ``.npz`` file written by :meth:`save`.

        Returns
        -------
        History

        Raises
        ------
        HistoryFormatError
            For a file that is not a History of this :data:`~ncedu.history.FORMAT_VERSION`.
        """
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
        bad = [k for k in SCALAR_FIELDS + _ARRAYS if k in data and len(data[k]) != n]
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
        names = data.get("layer_names")
        if names is not None and (names.ndim != 1 or names.dtype.kind != "U"):
            raise HistoryFormatError(f"{path} has layer names that are not a list of strings")
        layer_fields = [k for k in LAYER_FIELDS if k in data]
        if layer_fields and (names is None or any(data[k].shape[1:] != names.shape for k in layer_fields)):
            raise HistoryFormatError(f"{path} is inconsistent: its layer fields {layer_fields} do not have one value "
                                     f"per layer name ({None if names is None else names.tolist()})")
        try:
            h = cls(config=config, sample_labels=data.get("sample_labels"), class_counts=data.get("class_counts"),
                    layers=None if names is None else names.tolist())
        except ValueError as err:
            raise HistoryFormatError(f"{path}: {err}") from None
        arrays = [k for k in _ARRAYS if k in data]
        for i in range(n):
            row = {k: data[k][i] for k in SCALAR_FIELDS}
            row.update({k: data[k][i] for k in arrays})
            row["epoch"] = int(row["epoch"])
            h._rows.append({**{k: float(row[k]) for k in SCALAR_FIELDS}, **{k: row[k] for k in arrays}})
        return h

    # -- state for checkpoints (plain containers of arrays, loadable with weights_only=True) ---
    def state(self) -> dict[str, Any]:
        """The history as strings, floats and torch tensors only, for a training checkpoint.

        Returns
        -------
        dict
            Loadable with ``torch.load(weights_only=True)``; :meth:`from_state` rebuilds the History.
        """
        import torch

        rows = [{k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in r.items()} for r in self._rows]
        labels = None if self.sample_labels is None else torch.from_numpy(self.sample_labels)
        counts = None if self.class_counts is None else torch.from_numpy(self.class_counts)
        return {"config_json": json.dumps(self.config, default=_json_default), "rows": rows, "sample_labels": labels,
                "class_counts": counts, "layers": None if self.layers is None else list(self.layers)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> "History":
        """Rebuild a History from :meth:`state`.

        Parameters
        ----------
        state : mapping
            What :meth:`state` returned.

        Returns
        -------
        History
        """
        labels, counts = state["sample_labels"], state.get("class_counts")
        h = cls(config=json.loads(state["config_json"]), sample_labels=None if labels is None else labels.numpy(),
                class_counts=None if counts is None else counts.numpy(), layers=state.get("layers"))
        # a checkpoint written before a scalar field existed did not measure it: NaN, as append records it
        h._rows = [{**{k: np.nan for k in SCALAR_FIELDS}, **{k: (v.numpy() if hasattr(v, "numpy") else v)
                                                               for k, v in r.items()}} for r in state["rows"]]
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
