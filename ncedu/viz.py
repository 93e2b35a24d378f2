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

The code behind these functions lives in small modules with one job each: the checks and labels
of a History (:mod:`ncedu._runinfo`), the aligned plane of every epoch, pure numpy
(:mod:`ncedu._frames`), the artists that draw one epoch and move to another (:mod:`ncedu._views`),
the decision regions (:mod:`ncedu._decisions`) and the animation (:mod:`ncedu._animation`);
this module holds the plots and re-exports the rest.

Figures built with pyplot (``plot_*``) are registered with pyplot as usual: in a notebook write
``fig = plot_collapse(h)`` or end the line with ``;`` to see it once. Animations use a figure
that pyplot does not manage, so a notebook shows no stray static frame.
"""

from __future__ import annotations

import textwrap
from typing import Any, Optional, Sequence, Union

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from ._animation import animate, save_gif
from ._decisions import decision_maps, plot_decision_regions
from ._frames import project_history, row_cosines
from ._runinfo import (
    NotAHistoryError,
    check_history,
    class_names_of,
    describe_runs,
    epoch_index,
    num_classes_of,
    require_arrays,
    require_scalars,
    run_labels,
)
from ._views import (  # the gids are part of this module's interface: figures' artists carry them
    GID_CLASSIFIERS,
    GID_CURVE,
    GID_ETF,
    GID_GRAM,
    GID_LR_DROP,
    GID_MEANS,
    GID_NCC,
    GID_REGIONS,
    GID_SAMPLES,
    GID_SIMPLEX,
    GID_TERMINAL,
    ProjectionView,
    cell_text,
    class_colours,
    class_ticks,
    draw_projection_3d,
    frame_title,
    metric_values,
)
from .geometry import etf_gram
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
    "GID_CURVE", "GID_TERMINAL", "GID_LR_DROP", "GID_REGIONS", "GID_NCC", "GID_SAMPLES", "GID_MEANS",
    "GID_CLASSIFIERS", "GID_SIMPLEX", "GID_GRAM", "GID_ETF",
]

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


_STYLE = {"means": dict(ls="-", marker="o", ms=3), "classifiers": dict(ls=":", marker="s", ms=3, lw=2)}
_RUN_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive")


# ----------------------------------------------------------------------------------------------
# plot_collapse
# ----------------------------------------------------------------------------------------------


def _curve(history: History, field: str) -> np.ndarray:
    return 1.0 - history["train_acc"] if field == "train_error" else history[field]


def _as_histories(history_or_histories: Any) -> list[History]:
    if isinstance(history_or_histories, History):
        return [check_history(history_or_histories)]
    if isinstance(history_or_histories, (list, tuple)):
        if not history_or_histories:
            raise ValueError("history_or_histories is an empty list: give at least one History")
        return [check_history(h, name=f"history_or_histories[{i}]") for i, h in enumerate(history_or_histories)]
    raise NotAHistoryError(
        "history_or_histories must be an ncedu.History or a list of them, "
        f"got {type(history_or_histories).__name__}"
    )


def _check_same_classes(histories: Sequence[History]) -> None:
    counts = [num_classes_of(h) for h in histories]
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
    training accuracy, :meth:`~ncedu.History.terminal_phase_start`) is a vertical dashed line in the
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
    A run of a few epochs on a Gaussian mixture (a chapter passes ``ncedu.experiments.flagship()``):

    >>> import torch, ncedu
    >>> _ = torch.manual_seed(0)
    >>> x, y = ncedu.data.load("gaussian", num_classes=3, dim=8, per_class=30, separation=6)
    >>> h = ncedu.train(ncedu.models.MLP(8, 3, width=16, depth=2), (x, y), epochs=20, batch_size=30,
    ...                 num_measurements=8, samples_per_class=10, progress=False)
    >>> fig = plot_collapse(h)
    >>> [ax.get_title() for ax in fig.axes][:3], h.terminal_phase_start()
    (['Training error', 'NC1: within-class variability', 'NC2: equal norms'], 6)
    >>> fig = plot_collapse([h, h], labels=["first", "again"])   # runs overlaid, one colour each
    >>> plt.close("all")
    """
    histories = _as_histories(history_or_histories)
    fields = [field for *_, curves in COLLAPSE_PANELS for field, _ in curves]
    for i, h in enumerate(histories):
        name = "history" if len(histories) == 1 else f"history_or_histories[{i}]"
        require_scalars(h, fields, name=name, purpose="plot_collapse")
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
    subtitle = describe_runs(histories)
    if len(histories) > 1:
        subtitle = f"{len(histories)} runs" + (f" ({subtitle})" if subtitle else "")
    fig.suptitle("Neural collapse during training" + ("\n" + textwrap.fill(subtitle, 95) if subtitle else ""), fontsize=11)
    return fig


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
        Needs ``class_means``.
    epoch : int, optional
        A measured epoch (default: the last).

    Returns
    -------
    matplotlib.figure.Figure
        Two axes whose images carry the gids ``"ncedu-gram"`` and ``"ncedu-etf-gram"``, and a colour bar.

    Examples
    --------
    >>> import torch, ncedu
    >>> _ = torch.manual_seed(0)
    >>> x, y = ncedu.data.load("gaussian", num_classes=3, dim=8, per_class=30, separation=6)
    >>> h = ncedu.train(ncedu.models.MLP(8, 3, width=16, depth=2), (x, y), epochs=20, batch_size=30,
    ...                 num_measurements=8, samples_per_class=10, progress=False)
    >>> fig = plot_gram(h, epoch=20)
    >>> [image.get_gid() for ax in fig.axes for image in ax.images]
    ['ncedu-gram', 'ncedu-etf-gram']
    >>> plt.close(fig)
    """
    check_history(history)
    require_arrays(history, ("class_means",), name="history", purpose="plot_gram")
    i = epoch_index(history, epoch)
    means = history["class_means"][i]
    C = means.shape[0]
    G = row_cosines(history.centred_means()[i])
    names = class_names_of(history, C)
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.5, 4.4), layout="constrained")
    image = left.imshow(G, vmin=-1, vmax=1, cmap="RdBu_r", gid=GID_GRAM)
    right.imshow(etf_gram(C), vmin=-1, vmax=1, cmap="RdBu_r", gid=GID_ETF)
    for ax, matrix in ((left, G), (right, etf_gram(C))):
        class_ticks(ax, names)
        if C <= 6:
            for a in range(C):
                for b in range(C):
                    cell_text(ax, a, b, matrix[a, b], fontsize=9)
    left.set_title(f"Cosines of centred class means, epoch {int(history['epoch'][i])}\n"
                   f"max |G − G_ETF| = {np.nanmax(np.abs(G - etf_gram(C))):.3f}")
    right.set_title(f"Ideal simplex ETF: 1 on the diagonal,\n−1/(C−1) = {-1 / (C - 1):.3f} off it")
    fig.colorbar(image, ax=[left, right], label="cosine", shrink=0.85)
    return fig


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

    Examples
    --------
    >>> import torch, ncedu
    >>> _ = torch.manual_seed(0)
    >>> x, y = ncedu.data.load("gaussian", num_classes=3, dim=8, per_class=30, separation=6)
    >>> h = ncedu.train(ncedu.models.MLP(8, 3, width=16, depth=2), (x, y), epochs=20, batch_size=30,
    ...                 num_measurements=8, samples_per_class=10, progress=False)
    >>> fig = plot_projection(h)
    >>> sorted({artist.get_gid() for artist in fig.axes[0].get_children() if artist.get_gid()})
    ['ncedu-classifiers', 'ncedu-means', 'ncedu-samples', 'ncedu-simplex']
    >>> fig3d = plt.figure()
    >>> _ = plot_projection(h, epoch=1, ax=fig3d.add_subplot(projection="3d"))   # the 3-D view
    >>> plt.close("all")
    """
    check_history(history)
    i = epoch_index(history, epoch)
    dim = 3 if ax is not None and getattr(ax, "name", "") == "3d" else 2
    frames = project_history(history, dim)
    if ax is None:
        fig, ax = plt.subplots(figsize=(8.5, 6), layout="constrained")
    if dim == 3:
        draw_projection_3d(ax, frames, i)
        ax.set_title(frame_title(frames, metric_values(history), i), fontsize=10)
    else:
        ProjectionView(ax, frames, i, values=metric_values(history), legend=True)
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

    Examples
    --------
    >>> import torch, ncedu
    >>> _ = torch.manual_seed(0)
    >>> x, y = ncedu.data.load("gaussian", num_classes=3, dim=8, per_class=30, separation=6)
    >>> h = ncedu.train(ncedu.models.MLP(8, 3, width=16, depth=2), (x, y), epochs=20, batch_size=30,
    ...                 num_measurements=8, samples_per_class=10, progress=False)
    >>> fig = plot_spectra(h)
    >>> [line.get_label()[:3] for line in fig.axes[0].get_lines()]
    ['Σ_W', 'Σ_B']
    >>> plt.close(fig)
    """
    check_history(history)
    require_arrays(history, ("class_means", "sample_features"), name="history", purpose="plot_spectra")
    i = epoch_index(history, epoch)
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
