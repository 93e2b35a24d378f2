r"""Figures and animations of neural collapse, drawn from a :class:`ncedu.History`.

Every function returns a matplotlib :class:`~matplotlib.figure.Figure` (or an
:class:`~matplotlib.animation.FuncAnimation`) and never calls ``plt.show``:

* :func:`plot_collapse` -- the metrics NC1--NC4 against the epoch, as in figures 2--7 of
  Papyan, Han & Donoho (2020), for one run or several overlaid;
* :func:`plot_gram`, :func:`plot_projection`, :func:`plot_spectra` -- the geometry at one
  measured epoch: cosines of the centred class means beside the simplex ETF, the features and
  classifier in the plane of the class means, the spectra of :math:`\Sigma_W` and :math:`\Sigma_B`;
* :func:`animate` and :func:`save_gif` -- the paper's teaser animation, one frame per measured
  epoch.

Conventions (as in :mod:`ncedu.metrics`). At a measured epoch, ``mu_c`` is the mean feature of
class ``c`` and ``mu_G`` the global mean, the sample mean ``sum_c n_c mu_c / N`` from the class
counts the History records (:meth:`ncedu.History.global_mean`), for balanced and imbalanced runs
alike. ``M`` is the (C, p) matrix of centred means ``mu_c - mu_G``.

Plane of the means. The 2-D (or 3-D) view of an epoch projects onto the top principal
directions of the centred class means (the right singular vectors of ``M``; for ``C = 3`` the
plane that contains all three means exactly). If the means span fewer dimensions than the view
has (``C = 2``, or ``C = 3`` in 3-D), the remaining directions are the top principal directions
of the sampled features' residuals. Coordinates are divided by ``r = avg_c ||mu_c - mu_G||``
(so the means sit near the unit circle whatever the feature scale), each epoch's basis is
rotated (orthogonal Procrustes) to agree with the next epoch's, and the last epoch is rotated
onto the ideal simplex (class 0 at the top), so an animation neither jumps nor spins.
Classifier rows ``w_c`` are drawn as arrows from the origin after scaling ``W`` by
``||M||_F / ||W||_F``: under self-duality (NC3) each arrow ends exactly on its class mean.

Figures built with pyplot (``plot_*``) are registered with pyplot as usual: in a notebook write
``fig = plot_collapse(h)`` or end the line with ``;`` to see it once. Animations use a figure
that pyplot does not manage, so a notebook shows no stray static frame.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import matplotlib
import numpy as np
from matplotlib import animation
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from ._io import atomic_path
from .geometry import etf_gram, simplex_etf
from .history import History

__all__ = [
    "plot_collapse",
    "plot_gram",
    "plot_projection",
    "plot_spectra",
    "plot_decision_regions",
    "decision_maps",
    "animate",
    "save_gif",
    "run_labels",
    "class_colours",
    "COLLAPSE_PANELS",
    "NotAHistoryError",
]

PathLike = Union[str, "os.PathLike[str]"]

#: The panels of :func:`plot_collapse`: (title, y-axis label, log y?, ((field, kind), ...)).
#: ``kind`` is ``"means"`` (solid line) or ``"classifiers"`` (dotted line); ``train_error`` is
#: ``1 - train_acc``.
COLLAPSE_PANELS: tuple[tuple[str, str, bool, tuple[tuple[str, str], ...]], ...] = (
    ("Training error", "1 − training accuracy", False, (("train_error", "means"),)),
    ("NC1: within-class variability", r"$\mathrm{Tr}(\Sigma_W \Sigma_B^{\dagger})/C$", True, (("nc1", "means"),)),
    (
        "NC2: equal norms",
        r"std$_c\,\|\cdot\|$ / avg$_c\,\|\cdot\|$",
        False,
        (("nc2_equinorm_means", "means"), ("nc2_equinorm_classifiers", "classifiers")),
    ),
    (
        "NC2: equal angles",
        r"std$_{c<c'}\,\cos(\cdot,\cdot)$",
        False,
        (("nc2_equiangular_means", "means"), ("nc2_equiangular_classifiers", "classifiers")),
    ),
    (
        "NC2: maximal angles",
        r"avg$_{c<c'}\,|\cos + 1/(C-1)|$",
        False,
        (("nc2_maxangle_means", "means"), ("nc2_maxangle_classifiers", "classifiers")),
    ),
    ("NC3: self-duality", r"$\|W/\|W\|_F - M/\|M\|_F\|_F^2$", False, (("nc3", "means"),)),
    ("NC4: nearest class centre", "fraction of samples where\nnetwork ≠ nearest centre", False, (("nc4", "means"),)),
)

# gids of the artists the figures draw, so tests and callers can find them
GID_CURVE = "ncedu-curve"
GID_TERMINAL = "ncedu-terminal-phase"
GID_LR_DROP = "ncedu-lr-drop"
GID_REGIONS = "ncedu-network-regions"
GID_NCC = "ncedu-ncc-boundaries"
GID_SAMPLES = "ncedu-samples"
GID_MEANS = "ncedu-means"
GID_CLASSIFIERS = "ncedu-classifiers"
GID_SIMPLEX = "ncedu-simplex"
GID_GRAM = "ncedu-gram"
GID_ETF = "ncedu-etf-gram"

_STYLE = {"means": dict(ls="-", marker="o", ms=3), "classifiers": dict(ls=":", marker="s", ms=3, lw=2)}
_RUN_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive")
_BOOKKEEPING_KEYS = ("data_fingerprint", "measure_epochs")
# well-known config keys, shown first (and in this order) when labelling overlaid runs
_KEY_ORDER = ("dataset", "loss", "weight_decay", "width", "depth", "batch_norm", "model", "lr", "per_class", "epochs")


class NotAHistoryError(TypeError, ValueError):
    """An argument that should be an :class:`ncedu.History` is something else."""


# ----------------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------------


def _check_history(history: Any, *, name: str = "history") -> History:
    if not isinstance(history, History):
        raise NotAHistoryError(
            f"{name} must be an ncedu.History (e.g. from ncedu.train or ncedu.experiments.run), "
            f"got {type(history).__name__}"
        )
    if len(history) == 0:
        raise ValueError(f"{name} is empty: it has no measured epochs to plot")
    return history


def _require_scalars(history: History, fields: Sequence[str], *, name: str, purpose: str) -> None:
    for field in fields:
        source = "train_acc" if field == "train_error" else field
        if np.all(np.isnan(history[source])):
            raise ValueError(
                f"{name} lacks the field {source!r} (it is NaN at every epoch, so it was never recorded); "
                f"{purpose} needs it"
            )


def _require_arrays(history: History, fields: Sequence[str], *, name: str, purpose: str) -> None:
    missing = [k for k in fields if k not in history]
    if missing:
        raise ValueError(
            f"{name} lacks the field(s) {missing} at some or all epochs; {purpose} needs them "
            "(ncedu.train records them at every measured epoch)"
        )
    if "sample_features" in fields and history.sample_labels is None:
        raise ValueError(f"{name} lacks sample_labels (the labels of its sample_features); {purpose} needs them")


def _epoch_index(history: History, epoch: Optional[int]) -> int:
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


def _num_classes(history: History) -> Optional[int]:
    if "class_means" in history:
        return int(history["class_means"].shape[1])
    C = history.config.get("num_classes")
    if C is None and history.sample_labels is not None and history.sample_labels.size:
        C = int(history.sample_labels.max()) + 1
    return None if C is None else int(C)


# ----------------------------------------------------------------------------------------------
# Colours, names, labels
# ----------------------------------------------------------------------------------------------


def class_colours(num_classes: int) -> np.ndarray:
    """One RGBA colour per class, fixed for all figures: tab10 up to 10 classes, tab20 up to 20, else hsv."""
    if num_classes <= 10:
        return np.asarray(matplotlib.colormaps["tab10"].colors)[:num_classes]
    if num_classes <= 20:
        return np.asarray(matplotlib.colormaps["tab20"].colors)[:num_classes]
    return matplotlib.colormaps["hsv"](np.linspace(0.0, 1.0, num_classes, endpoint=False))[:, :3]


def _experiment(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The experiment's settings: nested under "experiment" by ncedu.experiments, else the config itself."""
    nested = config.get("experiment")
    return nested if isinstance(nested, Mapping) else config


def _dataset(config: Mapping[str, Any]) -> Optional[str]:
    dataset = _experiment(config).get("dataset")
    return None if dataset is None else str(dataset)


def _class_names(history: History, num_classes: int) -> tuple[str, ...]:
    """The dataset's class names when the config names a known dataset with this many classes, else 'class c'."""
    from . import data

    names: tuple[str, ...] = ()
    dataset = _dataset(history.config)
    if dataset is not None:
        try:
            names = tuple(data.class_names(dataset))
        except (ValueError, KeyError):
            names = ()
        chosen = _experiment(history.config).get("classes")  # a run on a subset of the classes
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


def _describe(histories: Sequence[History]) -> str:
    """A one-line summary of the main settings the runs share, for titles."""
    flats = [{k.rsplit(".", 1)[-1]: _format_value(v) for k, v in _flatten(h.config).items()} for h in histories]
    shared = [k for k in _KEY_ORDER[:6] if all(k in f and f[k] == flats[0][k] for f in flats)]
    return ", ".join(f"{k.replace('_', ' ')} {flats[0][k]}" for k in shared)


# ----------------------------------------------------------------------------------------------
# plot_collapse
# ----------------------------------------------------------------------------------------------


def _curve(history: History, field: str) -> np.ndarray:
    return 1.0 - history["train_acc"] if field == "train_error" else history[field]


def _as_histories(history_or_histories: Any) -> list[History]:
    if isinstance(history_or_histories, History):
        return [_check_history(history_or_histories)]
    if isinstance(history_or_histories, (list, tuple)):
        if not history_or_histories:
            raise ValueError("history_or_histories is an empty list: give at least one History")
        return [_check_history(h, name=f"history_or_histories[{i}]") for i, h in enumerate(history_or_histories)]
    raise NotAHistoryError(
        "history_or_histories must be an ncedu.History or a list of them, "
        f"got {type(history_or_histories).__name__}"
    )


def _check_same_classes(histories: Sequence[History]) -> None:
    counts = [_num_classes(h) for h in histories]
    known = {c for c in counts if c is not None}
    if len(known) > 1:
        raise ValueError(
            f"overlaid runs must have the same number of classes (the NC2 targets depend on it), got {counts}"
        )


def _mark_terminal_phase(axes: Sequence[Axes], epoch: int, colour: str, run: int, epoch_range: tuple[int, int]) -> None:
    """Dashed vertical line at ``epoch`` in every panel, labelled in the first (staggered per run)."""
    for ax in axes:
        ax.axvline(epoch, color=colour, ls="--", lw=1, alpha=0.8, gid=GID_TERMINAL)
    low, high = (max(e, 1) for e in epoch_range)
    right_half = high > low and np.log(max(epoch, 1) / low) > 0.6 * np.log(high / low)
    label_axis = axes[0]
    transform = blended_transform_factory(label_axis.transData, label_axis.transAxes)
    label_axis.text(
        epoch, 0.97 - 0.2 * run, f" terminal phase \n from epoch {epoch} ", transform=transform,
        color=colour, ha="right" if right_half else "left", va="top", fontsize=9,
    )


def _lr_drops(histories: Sequence[History]) -> list[int]:
    """The epochs after which some run's learning rate drops (``config["lr_milestones"]``), within its epochs."""
    drops: set[int] = set()
    for h in histories:
        milestones = h.config.get("lr_milestones") or []
        last = int(h["epoch"].max())
        drops |= {int(m) for m in milestones if 0 < int(m) < last}
    return sorted(drops)


def plot_collapse(
    history_or_histories: Union[History, Sequence[History]], labels: Optional[Sequence[str]] = None
) -> Figure:
    r"""The neural-collapse metrics against the training epoch, as in figures 2--7 of the paper.

    Seven panels, each with the epoch on a logarithmic x axis (as the paper):

    1. training error ``1 - train_acc``;
    2. NC1 ``Tr(Sigma_W Sigma_B^+)/C`` (log y axis, as the paper's figure 6);
    3. NC2 equal norms ``std_c ||mu_c - mu_G|| / avg_c ||mu_c - mu_G||`` (solid) and the same for
       the classifier rows ``w_c`` (dotted) -- figure 2;
    4. NC2 equal angles ``std_{c < c'} cos(mu_c - mu_G, mu_c' - mu_G)`` (the unbiased std over
       the C(C-1)/2 pairs ``c < c'``) and for ``w_c`` -- figure 3;
    5. NC2 maximal angles ``avg_{c < c'} |cos + 1/(C-1)|`` and for ``w_c`` -- figure 4;
    6. NC3 ``||W/||W||_F - M/||M||_F||_F^2`` -- figure 5;
    7. NC4, the fraction of samples whose network decision differs from the nearest class
       centre -- figure 7.

    Each run is one colour. The start of the terminal phase (the first measured epoch with 100%
    training accuracy, :meth:`History.terminal_phase_start`) is a vertical dashed line in the
    run's colour in every panel, labelled in the first. Learning-rate drops (the
    ``lr_milestones`` that :func:`ncedu.train` records in the run's config: the rate is
    multiplied by ``lr_decay`` after that epoch) are thin grey dotted lines, because the terminal
    phase often begins right after one. Curves carry the gid ``"ncedu-curve"``, the
    terminal-phase lines ``"ncedu-terminal-phase"``, the drops ``"ncedu-lr-drop"``.

    Parameters
    ----------
    history_or_histories : History or list of History
        One run, or several to overlay (e.g. two losses, weight decays or widths). Overlaid runs
        must have the same number of classes.
    labels : list of str, optional
        Legend labels of the runs; by default the config settings in which they differ
        (:func:`run_labels`).

    Returns
    -------
    matplotlib.figure.Figure
        Seven axes of curves in a 3 x 3 grid (in the order above) and an eighth, hidden
        (``axison`` False), that holds the legend.

    Raises
    ------
    ValueError
        For an empty history, a history lacking one of the plotted fields, overlaid runs with
        different numbers of classes, or a ``labels`` list of the wrong length.
    NotAHistoryError
        (a ``TypeError`` and a ``ValueError``) for an argument that is not a History.

    Examples
    --------
    >>> fig = plot_collapse([h_ce, h_mse], labels=["cross-entropy", "MSE"])  # doctest: +SKIP
    """
    histories = _as_histories(history_or_histories)
    fields = [field for *_, curves in COLLAPSE_PANELS for field, _ in curves]
    for i, h in enumerate(histories):
        name = "history" if len(histories) == 1 else f"history_or_histories[{i}]"
        _require_scalars(h, fields, name=name, purpose="plot_collapse")
    _check_same_classes(histories)
    if labels is None:
        labels = run_labels(histories)
    elif len(labels) != len(histories):
        raise ValueError(f"labels has {len(labels)} entries but {len(histories)} runs were given")

    # Sized for a page about 690 px wide: three panels per row, so that 10-point text stays
    # about 10 px tall once the figure is scaled to the page (see ncedu._layout).
    fig = plt.figure(figsize=(9, 8.6), layout="constrained")
    grid = fig.add_gridspec(3, 3)
    axes = [fig.add_subplot(grid[k // 3, k % 3]) for k in range(len(COLLAPSE_PANELS))]
    for ax, (title, ylabel, log_y, _) in zip(axes, COLLAPSE_PANELS):
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("epoch (log scale)")
        ax.set_xscale("log" if all(h["epoch"].min() > 0 for h in histories) else "symlog")
        if log_y:
            ax.set_yscale("log")
        ax.grid(True, which="major", alpha=0.3)

    epoch_range = (min(int(h["epoch"].min()) for h in histories), max(int(h["epoch"].max()) for h in histories))
    for run, (h, label) in enumerate(zip(histories, labels)):
        colour = _RUN_COLOURS[run % len(_RUN_COLOURS)]
        epochs = h["epoch"]
        for ax, (*_, curves) in zip(axes, COLLAPSE_PANELS):
            for field, kind in curves:
                ax.plot(epochs, _curve(h, field), color=colour, gid=GID_CURVE, label=f"{label}: {field}",
                        **_STYLE[kind])
        tpt = h.terminal_phase_start()
        if tpt is not None:
            _mark_terminal_phase(axes, tpt, colour, run, epoch_range)

    drops = _lr_drops(histories)  # drawn after the curves, so that the log axes already have limits
    for ax in axes:
        for epoch in drops:
            ax.axvline(epoch, color="0.55", ls=":", lw=1, gid=GID_LR_DROP)

    handles = [Line2D([], [], color=_RUN_COLOURS[i % len(_RUN_COLOURS)], lw=2) for i in range(len(histories))]
    names = list(labels) if len(histories) > 1 else []
    handles += [
        Line2D([], [], color="0.3", **_STYLE["means"]),
        Line2D([], [], color="0.3", **_STYLE["classifiers"]),
        Line2D([], [], color="0.3", ls="--", lw=1),
    ]
    names += [
        "class means μ_c (NC2: solid)",
        "classifier rows w_c (NC2: dotted)",
        "start of terminal phase\n(100% training accuracy)",
    ]
    if len(histories) == 1:
        handles = handles[-3:]
    if drops:
        decays = {h.config.get("lr_decay") for h in histories if h.config.get("lr_milestones")}
        factor = f" (×{decays.pop():g})" if len(decays) == 1 and None not in decays else ""
        handles.append(Line2D([], [], color="0.55", ls=":", lw=1))
        names.append(f"learning-rate drop{factor}")
    legend_ax = fig.add_subplot(grid[2, 1:])
    legend_ax.axis("off")
    legend_ax.legend(handles, names, loc="center", frameon=False, title="runs" if len(histories) > 1 else None)
    subtitle = _describe(histories)
    if len(histories) > 1:
        subtitle = f"{len(histories)} runs" + (f" ({subtitle})" if subtitle else "")
    fig.suptitle("Neural collapse during training" + ("\n" + textwrap.fill(subtitle, 95) if subtitle else ""), fontsize=11)
    return fig


# ----------------------------------------------------------------------------------------------
# Precomputed geometry of every measured epoch (shared by plots, animation and widgets)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Frames:
    """Everything the geometry views draw, for every measured epoch, computed once.

    Coordinates are in units of ``scale[e] = avg_c ||mu_c - mu_G||`` about ``centre[e] = mu_G`` (see the
    module docstring); every view (projection, animation, scrubber, decision regions) uses this one plane.
    """

    epochs: np.ndarray  # (E,) int
    labels: np.ndarray  # (S,) int, labels of the sampled features
    centre: np.ndarray  # (E, p) the global means mu_G, the origin of the view
    class_names: tuple[str, ...]
    basis: np.ndarray  # (E, p, d) orthonormal columns spanning the view
    scale: np.ndarray  # (E,)
    samples: np.ndarray  # (E, S, d)
    means: np.ndarray  # (E, C, d)
    classifiers: np.ndarray  # (E, C, d) arrows: W * ||M||_F/||W||_F projected
    gram: np.ndarray  # (E, C, C) cosines of the centred means
    limit: float  # half-width of the fixed axis limits

    def __len__(self) -> int:
        return len(self.epochs)

    @property
    def num_classes(self) -> int:
        return self.means.shape[1]

    @property
    def dim(self) -> int:
        return self.means.shape[2]


def _cosines(M: np.ndarray) -> np.ndarray:
    """Cosines between the rows of M (NaN for a zero row)."""
    norms = np.linalg.norm(M, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        U = M / norms[:, None]
    return U @ U.T


def _view_basis(M: np.ndarray, residuals: np.ndarray, dim: int) -> np.ndarray:
    """(p, dim) orthonormal basis: top principal directions of the centred means, completed from the residuals."""
    _, s, Vt = np.linalg.svd(M, full_matrices=False)
    tol = max(M.shape) * np.finfo(float).eps * (s[0] if s.size else 0.0)
    k = min(int(np.sum(s > tol)), dim)
    B = Vt[:k].T
    if k < dim:
        R = residuals - (residuals @ B) @ B.T
        _, _, Vr = np.linalg.svd(R, full_matrices=False)
        B = np.concatenate([B, Vr[: dim - k].T], axis=1)
    if B.shape[1] < dim:  # degenerate data: complete with any orthonormal directions
        Q, _ = np.linalg.qr(np.concatenate([B, np.eye(M.shape[1])], axis=1))
        B = Q[:, :dim]
    return B


def _procrustes(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The orthogonal (d, d) R minimising ||source R - target||_F (rotations and reflections allowed)."""
    U, _, Vt = np.linalg.svd(source.T @ target)
    return U @ Vt


def _canonical_target(num_classes: int, dim: int) -> np.ndarray:
    """Where the last epoch's means are rotated to: the simplex (class 0 on top, counter-clockwise)."""
    if dim == 3 and num_classes == 4:
        return simplex_etf(4, 3)
    angles = np.pi / 2 + 2 * np.pi * np.arange(num_classes) / num_classes
    polygon = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return np.concatenate([polygon, np.zeros((num_classes, dim - 2))], axis=1)


def _frames(history: History, dim: int = 2) -> _Frames:
    """Project every measured epoch onto the (aligned) plane or space of its class means. See :class:`_Frames`."""
    _check_history(history)
    _require_arrays(history, ("class_means", "W", "sample_features"), name="history", purpose="the geometry views")
    means = history["class_means"]
    W = history["W"]
    features = history["sample_features"].astype(np.float64)
    labels = history.sample_labels
    E, C, p = means.shape
    if p < dim:
        raise ValueError(f"the features have dimension {p}, too few for a {dim}-D view")
    if features.shape[1] != labels.shape[0]:
        raise ValueError(f"history has {features.shape[1]} sample_features but {labels.shape[0]} sample_labels")
    centre = history.global_mean()
    M = means - centre[:, None, :]
    scale = np.linalg.norm(M, axis=2).mean(axis=1)
    scale = np.where(scale > 0, scale, 1.0)
    residuals = features - means[np.arange(E)[:, None], labels[None, :]]
    bases = np.stack([_view_basis(M[e], residuals[e], dim) for e in range(E)])

    # align: last epoch onto the ideal simplex, then each earlier epoch onto the one after it
    target = _canonical_target(C, dim)
    for e in range(E - 1, -1, -1):
        coords = M[e] @ bases[e] / scale[e]
        bases[e] = bases[e] @ _procrustes(coords, target)
        target = M[e] @ bases[e] / scale[e]

    w_norm = np.linalg.norm(W, axis=(1, 2))
    m_norm = np.linalg.norm(M, axis=(1, 2))
    w_scale = np.divide(m_norm, w_norm, out=np.zeros(E), where=w_norm > 0)
    per_epoch = scale[:, None, None]
    samples = np.einsum("esp,epd->esd", features - centre[:, None, :], bases) / per_epoch
    mean_xy = np.einsum("ecp,epd->ecd", M, bases) / per_epoch
    arrows = np.einsum("ecp,epd->ecd", W * w_scale[:, None, None], bases) / per_epoch
    gram = np.stack([_cosines(M[e]) for e in range(E)])

    structure = max(np.abs(mean_xy).max(), np.abs(arrows).max(), 1.0)
    spread = np.quantile(np.abs(samples), 0.98) if samples.size else 0.0
    limit = 1.1 * max(structure, min(spread, 2.0 * structure))
    return _Frames(
        epochs=history["epoch"], labels=labels, centre=centre, class_names=_class_names(history, C), basis=bases,
        scale=scale,
        samples=samples, means=mean_xy, classifiers=arrows, gram=gram, limit=float(limit),
    )


# ----------------------------------------------------------------------------------------------
# Drawing one epoch's geometry; the artists are created once and updated per frame
# ----------------------------------------------------------------------------------------------


def _polygon(points: np.ndarray) -> np.ndarray:
    """The closed polygon through the points in order (first point repeated at the end)."""
    return np.concatenate([points, points[:1]], axis=0)


def _class_legend(ax: Axes, frames: _Frames, colours: np.ndarray) -> None:
    kinds = [
        Line2D([], [], ls="", marker="o", ms=4, color="0.4", alpha=0.6, label="sample features h_i"),
        Line2D([], [], ls="", marker="o", ms=10, mfc="0.6", mec="k", label="class means μ_c"),
        Line2D([], [], color="0.3", marker=r"$\rightarrow$", ms=14, ls="", label="classifier rows w_c (scaled)"),
    ]
    if frames.num_classes == 3:
        kinds.append(Line2D([], [], color="0.5", ls=":", label="ideal simplex ETF"))
    classes = []
    if frames.num_classes <= 20:
        classes = [
            Line2D([], [], ls="", marker="o", ms=7, color=colours[c], label=name)
            for c, name in enumerate(frames.class_names)
        ]
    ax.legend(handles=kinds + classes, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9, frameon=False)


def _frame_title(frames: _Frames, history_values: Mapping[str, np.ndarray], i: int) -> str:
    """Two short lines (a panel may be half the figure's width): the epoch, then error and NC1."""
    details = []
    acc = history_values.get("train_acc")
    if acc is not None and np.isfinite(acc[i]):
        details.append(f"training error {100 * (1 - acc[i]):.1f}%")
    nc1 = history_values.get("nc1")
    if nc1 is not None and np.isfinite(nc1[i]):
        details.append(f"NC1 {nc1[i]:.3g}")
    return f"epoch {int(frames.epochs[i])}" + ("\n" + ", ".join(details) if details else "")


class _ProjectionView:
    """The 2-D view of one epoch in an Axes: samples, means, classifier arrows; ``update(i)`` moves them."""

    def __init__(self, ax: Axes, frames: _Frames, index: int, *, values: Mapping[str, np.ndarray], legend: bool = True,
                 samples: bool = True, classifiers: bool = True):
        self.ax, self.frames, self.values = ax, frames, values
        C = frames.num_classes
        colours = class_colours(C)
        zeros = np.zeros(C)
        self.samples = None
        if samples:
            self.samples = ax.scatter(*frames.samples[index].T, s=14, c=colours[frames.labels], alpha=0.6,
                                      linewidths=0, gid=GID_SAMPLES, zorder=2)
        self.means = ax.scatter(*frames.means[index].T, s=90, c=colours, edgecolors="k", linewidths=1.2,
                                gid=GID_MEANS, zorder=4)
        self.arrows = None
        if classifiers:
            self.arrows = ax.quiver(zeros, zeros, *frames.classifiers[index].T, color=colours, angles="xy",
                                    scale_units="xy", scale=1, width=0.007, zorder=3, gid=GID_CLASSIFIERS)
        self.simplex = None
        if C == 3:
            ideal = _polygon(_canonical_target(3, 2))
            ax.plot(*ideal.T, color="0.5", ls=":", lw=1, zorder=1)
            (self.simplex,) = ax.plot(*_polygon(frames.means[index]).T, color="0.25", lw=1, zorder=3, gid=GID_SIMPLEX)
        ax.plot([0], [0], marker="+", color="k", ms=8, zorder=1)
        lim = frames.limit
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xlabel("1st principal direction of the class means\n(unit: average ‖μ_c − μ_G‖)")
        ax.set_ylabel("2nd principal direction")
        self.title = ax.set_title(_frame_title(frames, values, index), fontsize=10)
        if legend:
            _class_legend(ax, frames, colours)

    def update(self, i: int) -> list:
        f = self.frames
        if self.samples is not None:
            self.samples.set_offsets(f.samples[i])
        self.means.set_offsets(f.means[i])
        if self.arrows is not None:
            self.arrows.set_UVC(f.classifiers[i][:, 0], f.classifiers[i][:, 1])
        if self.simplex is not None:
            self.simplex.set_data(*_polygon(f.means[i]).T)
        self.title.set_text(_frame_title(f, self.values, i))
        return [a for a in (self.samples, self.means, self.arrows, self.simplex, self.title) if a is not None]


class _GramView:
    """Heatmap of the cosines of the centred class means at one epoch; ``update(i)`` changes the image."""

    def __init__(self, ax: Axes, frames: _Frames, index: int, *, annotate: Optional[bool] = None):
        self.ax, self.frames = ax, frames
        C = frames.num_classes
        self.image = ax.imshow(frames.gram[index], vmin=-1, vmax=1, cmap="RdBu_r", gid=GID_GRAM)
        _class_ticks(ax, frames.class_names)
        annotate = C <= 6 if annotate is None else annotate
        self.texts = []
        if annotate:
            G = frames.gram[index]
            self.texts = [[_cell_text(ax, a, b, G[a, b], fontsize=8) for b in range(C)] for a in range(C)]
        self.title = ax.set_title(_gram_title(frames, index), fontsize=10)

    def update(self, i: int) -> list:
        G = self.frames.gram[i]
        self.image.set_data(G)
        for a, row in enumerate(self.texts):
            for b, text in enumerate(row):
                text.set_text(f"{G[a, b]:.2f}")
                text.set_color(_text_colour(G[a, b]))
        self.title.set_text(_gram_title(self.frames, i))
        return [self.image, self.title] + [t for row in self.texts for t in row]


def _text_colour(value: float) -> str:
    """White on the dark ends of the -1..1 colour scale, black in between."""
    return "white" if abs(value) > 0.6 else "black"


def _cell_text(ax: Axes, row: int, column: int, value: float, fontsize: float):
    return ax.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=fontsize, color=_text_colour(value))


def _gram_title(frames: _Frames, i: int) -> str:
    C = frames.num_classes
    deviation = np.nanmax(np.abs(frames.gram[i] - etf_gram(C)))
    return f"cos(μ_c − μ_G, μ_c' − μ_G), epoch {int(frames.epochs[i])}\nmax |G − G_ETF| = {deviation:.2f}"


def _class_ticks(ax: Axes, names: Sequence[str]) -> None:
    C = len(names)
    ticks = np.arange(C)
    short = [n if len(n) <= 8 else n[:7] + "…" for n in names]
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    fontsize = 9 if C <= 10 else 7
    ax.set_xticklabels(short, rotation=90 if C > 4 else 0, fontsize=fontsize)
    ax.set_yticklabels(short, fontsize=fontsize)
    colours = class_colours(C)
    for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
        for label, colour in zip(labels, colours):
            label.set_color(colour)


def _metric_values(history: History) -> dict[str, np.ndarray]:
    return {k: history[k] for k in ("train_acc", "nc1", "nc3", "nc4")}


# ----------------------------------------------------------------------------------------------
# Geometry at one epoch
# ----------------------------------------------------------------------------------------------


def plot_gram(history: History, epoch: Optional[int] = None) -> Figure:
    r"""The Gram matrix of the normalised centred class means beside the ideal simplex ETF's.

    Left: ``G[c, c'] = cos(mu_c - mu_G, mu_c' - mu_G)``, the cosines between centred class means
    (``mu_G`` the sample mean, see the module docstring). Right: the simplex ETF Gram
    :func:`ncedu.etf_gram` -- 1 on the diagonal and ``-1/(C-1)`` off it -- which ``G`` approaches
    under NC2. Both share one colour scale from -1 (blue) to 1 (red).

    Parameters
    ----------
    history : History
    epoch : int, optional
        A measured epoch (default: the last).

    Returns
    -------
    matplotlib.figure.Figure
        Two axes whose images carry the gids ``"ncedu-gram"`` and ``"ncedu-etf-gram"``, and a colour bar.
    """
    _check_history(history)
    _require_arrays(history, ("class_means",), name="history", purpose="plot_gram")
    i = _epoch_index(history, epoch)
    means = history["class_means"][i]
    C = means.shape[0]
    G = _cosines(history.centred_means()[i])
    names = _class_names(history, C)
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.5, 4.4), layout="constrained")
    image = left.imshow(G, vmin=-1, vmax=1, cmap="RdBu_r", gid=GID_GRAM)
    right.imshow(etf_gram(C), vmin=-1, vmax=1, cmap="RdBu_r", gid=GID_ETF)
    for ax, matrix in ((left, G), (right, etf_gram(C))):
        _class_ticks(ax, names)
        if C <= 6:
            for a in range(C):
                for b in range(C):
                    _cell_text(ax, a, b, matrix[a, b], fontsize=9)
    left.set_title(f"Cosines of centred class means, epoch {int(history['epoch'][i])}\n"
                   f"max |G − G_ETF| = {np.nanmax(np.abs(G - etf_gram(C))):.3f}")
    right.set_title(f"Ideal simplex ETF: 1 on the diagonal,\n−1/(C−1) = {-1 / (C - 1):.3f} off it")
    fig.colorbar(image, ax=[left, right], label="cosine", shrink=0.85)
    return fig


def _draw_projection_3d(ax: Axes, frames: _Frames, i: int) -> None:
    colours = class_colours(frames.num_classes)
    pts, mu, arrows = frames.samples[i], frames.means[i], frames.classifiers[i]
    ax.scatter(*pts.T, s=14, c=colours[frames.labels], alpha=0.6, linewidths=0, gid=GID_SAMPLES, depthshade=False)
    ax.scatter(*mu.T, s=80, c=colours, edgecolors="k", gid=GID_MEANS, depthshade=False)
    C = frames.num_classes
    heads = np.repeat(colours, 2, axis=0)  # a 3-D quiver colours its C shafts, then its 2C head segments
    ax.quiver(np.zeros(C), np.zeros(C), np.zeros(C), *arrows.T, colors=np.concatenate([colours, heads]),
              arrow_length_ratio=0.15, gid=GID_CLASSIFIERS)
    if C <= 4:
        for a in range(C):
            for b in range(a + 1, C):
                ax.plot(*np.stack([mu[a], mu[b]]).T, color="0.3", lw=1, gid=GID_SIMPLEX)
    lim = frames.limit
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_zlim(-lim, lim)
    ax.set_box_aspect((1, 1, 1))
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_zlabel("PC 3")


def plot_projection(history: History, epoch: Optional[int] = None, ax: Optional[Axes] = None) -> Figure:
    r"""Sample features, class means and classifier rows in the plane of the class means at one epoch.

    The centred features ``h_i - mu_G``, means ``mu_c - mu_G`` and classifier rows are projected onto
    the top two principal directions of the centred class means (three for a 3-D ``ax``), and
    divided by ``r = avg_c ||mu_c - mu_G||`` so the means lie near the unit circle. Points are
    coloured by class (tab10). Classifier rows are arrows from the origin, ``W`` scaled by
    ``||M||_F / ||W||_F`` first, so under self-duality (NC3) each arrow ends on its class mean.
    For three classes the triangle of the means is drawn, with the ideal simplex (dotted).
    Under neural collapse the dots shrink onto their means (NC1) and the means form a regular
    simplex (NC2). Artists carry the gids ``"ncedu-samples"``, ``"ncedu-means"``,
    ``"ncedu-classifiers"`` and ``"ncedu-simplex"``.

    Parameters
    ----------
    history : History
        Needs ``class_means``, ``W``, ``sample_features`` and ``sample_labels``.
    epoch : int, optional
        A measured epoch (default: the last).
    ax : matplotlib Axes, optional
        Where to draw; a 3-D axes (``projection="3d"``) gives the 3-D view. Default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of ``ax``.
    """
    _check_history(history)
    i = _epoch_index(history, epoch)
    dim = 3 if ax is not None and getattr(ax, "name", "") == "3d" else 2
    frames = _frames(history, dim)
    if ax is None:
        fig, ax = plt.subplots(figsize=(8.5, 6), layout="constrained")
    if dim == 3:
        _draw_projection_3d(ax, frames, i)
        ax.set_title(_frame_title(frames, _metric_values(history), i), fontsize=10)
    else:
        _ProjectionView(ax, frames, i, values=_metric_values(history), legend=True)
    return ax.figure


def _within_class_spectrum(history: History, i: int) -> np.ndarray:
    r"""Eigenvalues of Sigma_W estimated from the S sampled features, centred at the recorded class means."""
    means = history["class_means"][i]
    H = history["sample_features"][i].astype(np.float64)
    R = H - means[history.sample_labels]
    s = np.linalg.svd(R / np.sqrt(R.shape[0]), compute_uv=False)
    return s**2


def _between_class_spectrum(history: History, i: int) -> np.ndarray:
    M = history.centred_means()[i]
    s = np.linalg.svd(M / np.sqrt(M.shape[0]), compute_uv=False)
    return s**2


def plot_spectra(history: History, epoch: Optional[int] = None, ax: Optional[Axes] = None) -> Figure:
    r"""Eigenvalues of the within-class and between-class covariances at one epoch (log scale).

    * ``Sigma_W = (1/N) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T`` -- estimated here from the
      history's S *sampled* training features (centred at the recorded class means of the full
      training set), so it has at most S non-zero eigenvalues;
    * ``Sigma_B = (1/C) sum_c (mu_c - mu_G)(mu_c - mu_G)^T`` -- from the class means, rank ``C - 1``.

    Eigenvalues are sorted from the largest and those below ``1e-12`` times the largest of both
    are not drawn (a log axis cannot show zero). NC1 compares the two: under variability
    collapse the whole Sigma_W spectrum falls far below Sigma_B's.

    Parameters
    ----------
    history : History
        Needs ``class_means``, ``sample_features`` and ``sample_labels``.
    epoch : int, optional
        A measured epoch (default: the last).
    ax : matplotlib Axes, optional
        Where to draw (e.g. one panel of a figure comparing epochs or runs). Default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of the axes, which holds two lines labelled ``"Σ_W ..."`` and ``"Σ_B ..."``.
    """
    _check_history(history)
    _require_arrays(history, ("class_means", "sample_features"), name="history", purpose="plot_spectra")
    i = _epoch_index(history, epoch)
    within = _within_class_spectrum(history, i)
    between = _between_class_spectrum(history, i)
    floor = 1e-12 * max(within.max(initial=0.0), between.max(initial=0.0))
    within, between = within[within > floor], between[between > floor]
    S = history.sample_labels.shape[0]
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.5), layout="constrained")
    ax.plot(np.arange(1, within.size + 1), within, ".-", color="tab:blue", ms=4,
            label=f"Σ_W within-class (estimated from {S} sampled features)")
    ax.plot(np.arange(1, between.size + 1), between, "o-", color="tab:red", ms=6,
            label=f"Σ_B between-class (from the {history['class_means'].shape[1]} class means)")
    ax.set_yscale("log")
    ax.set_xlabel("eigenvalue index (largest first)")
    ax.set_ylabel("eigenvalue (squared feature units)")
    nc1 = history["nc1"][i]
    title = f"Spectra of Σ_W (estimated from {S} sampled training features) and Σ_B, epoch {int(history['epoch'][i])}"
    if np.isfinite(nc1):
        title += f"\nNC1 = Tr(Σ_W Σ_B†)/C = {nc1:.3g} on the full training set"
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return ax.figure


def decision_maps(
    history: History, epoch: Optional[int] = None, extent: float = 2.2, resolution: int = 300
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    r"""The network's and the nearest-class-centre decisions on a grid of the plane of the class means.

    The plane is the one every view of the run draws (:func:`plot_projection`, :func:`animate`,
    the scrubber): ``mu_G + r (x e_1 + y e_2)`` with ``mu_G`` the global (sample) mean, ``e_1, e_2``
    the aligned basis of the module docstring and ``r = avg_c ||mu_c - mu_G||``; ``x, y`` run over
    ``[-extent, extent]``. At each grid point ``h`` the network decides ``argmax_c (w_c . h + b_c)``
    and NCC ``argmin_c ||h - mu_c||`` (in the full feature space).

    Parameters
    ----------
    history : History
        Needs ``class_means``, ``W``, ``b``, ``sample_features`` and ``sample_labels``.
    epoch : int, optional
        A measured epoch (default: the last).
    extent : float
        Half-width of the square, in units of ``r``.
    resolution : int
        Grid points along each side.

    Returns
    -------
    coords : (resolution,) array
        The grid values of ``x`` (and of ``y``).
    network, ncc : (resolution, resolution) int arrays
        Decisions, indexed ``[y, x]`` (as ``imshow(origin="lower")`` expects).
    basis : (2, p) array
        ``e_1, e_2``.
    scale : float
        ``r``.
    centre : (p,) array
        ``mu_G``.
    """
    _check_history(history)
    _require_arrays(history, ("class_means", "W", "b", "sample_features"), name="history", purpose="decision_maps")
    if isinstance(extent, bool) or not isinstance(extent, (int, float, np.floating)) or not (np.isfinite(extent) and extent > 0):
        raise ValueError(f"extent must be a positive number, got {extent!r}")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise ValueError(f"resolution must be an integer of at least 2, got {resolution!r}")
    i = _epoch_index(history, epoch)
    frames = _frames(history, 2)
    basis, scale, centre = frames.basis[i].T, float(frames.scale[i]), frames.centre[i]
    mu = history["class_means"][i].astype(np.float64)
    coords = np.linspace(-extent, extent, resolution)
    gx, gy = np.meshgrid(coords, coords)
    h = centre + scale * (gx.reshape(-1, 1) * basis[0] + gy.reshape(-1, 1) * basis[1])
    network = (h @ np.asarray(history["W"][i], dtype=np.float64).T + np.asarray(history["b"][i], dtype=np.float64)).argmax(axis=1)
    sq = (h * h).sum(axis=1)[:, None] - 2.0 * h @ mu.T + (mu * mu).sum(axis=1)[None, :]
    ncc = sq.argmin(axis=1)
    shape = gx.shape
    return coords, network.reshape(shape), ncc.reshape(shape), basis, scale, centre


def plot_decision_regions(
    history: History, epoch: Optional[int] = None, ax: Optional[Axes] = None, *, extent: float = 2.2
) -> Figure:
    r"""The network's decision regions against the nearest-class-centre (NCC) cells, in the plane of the means.

    Background colours are the network's decision ``argmax_c (w_c . h + b_c)`` at each point ``h``
    of the plane through the class means (see :func:`decision_maps`); dashed black lines are the
    boundaries of the NCC rule ``argmin_c ||h - mu_c||`` (Voronoi cells of the means); large dots are
    the class means, small dots the history's sampled training features, projected onto the plane.
    Under NC4 the colour boundaries run along the dashed lines. With ``C = 3`` the plane holds
    every mean; with more classes it is the best-fitting plane and the picture is a slice. The
    title gives the fraction of the drawn square where the two rules differ (a property of the
    square, not of any data). The plane, its centre ``mu_G`` and its orientation are those of every
    other view of the run (:func:`decision_maps`), so a class sits in the same place here as in
    :func:`plot_projection`.

    Parameters
    ----------
    history : History
        Needs ``class_means``, ``W``, ``b``, ``sample_features`` and ``sample_labels``.
    epoch : int, optional
        A measured epoch (default: the last).
    ax : matplotlib Axes, optional
        Where to draw. Default: a new figure.
    extent : float
        Half-width of the square, in units of ``avg_c ||mu_c - mu_G||``.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of the axes; the image has gid ``"ncedu-network-regions"``, the contour
        ``"ncedu-ncc-boundaries"``.
    """
    _check_history(history)
    _require_arrays(history, ("class_means", "W", "b", "sample_features"), name="history",
                    purpose="plot_decision_regions")
    if not (np.isfinite(extent) and extent > 0):
        raise ValueError(f"extent must be a positive number, got {extent}")
    i = _epoch_index(history, epoch)
    mu = history["class_means"][i].astype(np.float64)
    coords, network, ncc, basis, scale, centre = decision_maps(history, int(history["epoch"][i]), extent)
    colours = class_colours(mu.shape[0])
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5), layout="constrained")
    image = ax.imshow(network, origin="lower", extent=(coords[0], coords[-1], coords[0], coords[-1]),
                      cmap=ListedColormap(colours), vmin=-0.5, vmax=mu.shape[0] - 0.5, alpha=0.25,
                      interpolation="nearest")
    image.set_gid(GID_REGIONS)
    contour = ax.contour(coords, coords, ncc, levels=np.arange(mu.shape[0] - 1) + 0.5, colors="k",
                         linestyles="--", linewidths=1.5)
    contour.set_gid(GID_NCC)
    samples = (history["sample_features"][i].astype(np.float64) - centre) @ basis.T / scale
    ax.scatter(*samples.T, c=colours[history.sample_labels], s=8)
    ax.scatter(*((mu - centre) @ basis.T / scale).T, c=colours, s=140, edgecolors="k", zorder=3)
    ax.set(xlim=(coords[0], coords[-1]), ylim=(coords[0], coords[-1]), aspect="equal",
           xlabel=r"direction 1 (unit: avg $\|\mu_c - \mu_G\|$)", ylabel="direction 2",
           title=f"epoch {int(history['epoch'][i])}\nthe rules differ on {np.mean(network != ncc):.1%} of the square")
    return ax.figure


# ----------------------------------------------------------------------------------------------
# Animation
# ----------------------------------------------------------------------------------------------


def _detached_figure(figsize: tuple[float, float], dpi: float) -> Figure:
    """A figure with an Agg canvas that pyplot does not manage (a notebook never shows it by itself)."""
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _freeze_layout(fig: Figure) -> None:
    """Run the layout engine once and keep its result, so that redrawing frames does not re-run it.

    Without a layout engine ``savefig`` also draws each frame once instead of twice.
    """
    fig.canvas.draw()
    with matplotlib.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)


def animate(history: History, fps: float = 5) -> animation.FuncAnimation:
    r"""The paper's teaser animation: one frame per measured epoch of the plane of the class means.

    Each frame is the view of :func:`plot_projection` at one epoch: sample features (dots)
    shrinking onto their class means (NC1), the means spreading into a simplex (NC2; for three
    classes a triangle, drawn with the ideal one dotted) and the classifier arrows turning onto
    the means (NC3). For more than three classes the view is the top-2 principal plane of the
    means. Axis limits are fixed over all frames, and each epoch's plane is aligned to the
    next one's (orthogonal Procrustes), so the picture neither jumps nor spins.

    Parameters
    ----------
    history : History
        Needs ``class_means``, ``W``, ``sample_features`` and ``sample_labels``.
    fps : float
        Frames (epochs) per second.

    Returns
    -------
    matplotlib.animation.FuncAnimation
        On a figure pyplot does not manage. Show it in a notebook or on a web page with
        :func:`ncedu.widgets.animation_html` (an embedded player that needs no kernel and no
        network), or save it with :func:`save_gif`.
    """
    _check_history(history)
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    frames = _frames(history, 2)
    fig = _detached_figure((8.0, 5.6), dpi=100)
    ax = fig.add_subplot()
    view = _ProjectionView(ax, frames, 0, values=_metric_values(history), legend=True)
    fig.suptitle("Neural collapse in the plane of the class means", fontsize=11)
    _freeze_layout(fig)
    anim = animation.FuncAnimation(fig, view.update, frames=len(frames), interval=1000.0 / fps, blit=False,
                                   repeat=True, cache_frame_data=False)
    anim.view = view  # type: ignore[attr-defined]  # for callers and tests that drive the frames
    return anim


def save_gif(anim: animation.Animation, path: PathLike, fps: Optional[float] = None) -> Path:
    """Save an animation as a GIF (Pillow), atomically: written to a temporary file, then renamed.

    A failure half-way leaves any existing file at ``path`` untouched and no temporary file behind.

    Parameters
    ----------
    anim : matplotlib.animation.Animation
        E.g. from :func:`animate`.
    path : str or path-like
        Must end in ``.gif``. Missing parent folders are created.
    fps : float, optional
        Frames per second (default: the animation's own rate).

    Returns
    -------
    pathlib.Path
    """
    if not isinstance(anim, animation.Animation):
        raise ValueError(
            f"anim must be a matplotlib Animation (e.g. from ncedu.viz.animate), got {type(anim).__name__}"
        )
    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise ValueError(f"path must end in .gif, got {str(path)!r}")
    if fps is None:
        fps = 1000.0 / getattr(anim, "_interval", 200)
    with atomic_path(path, suffix=".gif") as tmp:
        anim.save(tmp, writer=animation.PillowWriter(fps=fps))
    return path
