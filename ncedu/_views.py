"""The artists that draw one epoch of a run and move to another: the building blocks of every view.

:class:`ProjectionView` (sample features, class means and classifier arrows in the plane of the
means) and :class:`GramView` (the cosines of the centred means) are created once and updated in
place by ``update(i)``, which returns the artists it changed, so that an animation frame or a
scrubber step costs one blitted redraw. Also here: the fixed class colours, the artists' gids
(tests and callers find them by gid), and figures that pyplot does not manage.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ._frames import Frames, canonical_target
from .geometry import etf_gram
from .history import History

__all__ = ["ProjectionView", "GramView", "class_colours", "class_legend", "frame_title", "class_ticks", "gram_title",
           "cell_text", "text_colour", "metric_values", "draw_projection_3d", "detached_figure", "freeze_layout",
           "closed_polygon", "GID_CURVE", "GID_TERMINAL", "GID_LR_DROP", "GID_REGIONS", "GID_NCC", "GID_SAMPLES",
           "GID_MEANS", "GID_CLASSIFIERS", "GID_SIMPLEX", "GID_GRAM", "GID_ETF"]

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

def class_colours(num_classes: int) -> np.ndarray:
    """One RGB colour per class, the same in every figure: tab10 up to 10 classes, tab20 up to 20, else hsv.

    Parameters
    ----------
    num_classes : int
        ``C``.

    Returns
    -------
    numpy.ndarray of shape (C, 3)
        RGB values in ``[0, 1]``; row ``c`` is class ``c``'s colour.

    Examples
    --------
    >>> class_colours(3).shape, class_colours(12).shape, class_colours(30).shape
    ((3, 3), (12, 3), (30, 3))
    >>> bool(np.allclose(class_colours(3)[0], matplotlib.colors.to_rgb("tab:blue")))
    True
    """
    if num_classes <= 10:
        return np.asarray(matplotlib.colormaps["tab10"].colors)[:num_classes]
    if num_classes <= 20:
        return np.asarray(matplotlib.colormaps["tab20"].colors)[:num_classes]
    return matplotlib.colormaps["hsv"](np.linspace(0.0, 1.0, num_classes, endpoint=False))[:, :3]

def closed_polygon(points: np.ndarray) -> np.ndarray:
    """The closed polygon through the points in order (first point repeated at the end)."""
    return np.concatenate([points, points[:1]], axis=0)

def class_legend(ax: Axes, frames: Frames, colours: np.ndarray) -> None:
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

def frame_title(frames: Frames, history_values: Mapping[str, np.ndarray], i: int) -> str:
    """Two short lines (a panel may be half the figure's width): the epoch, then error and NC1."""
    details = []
    acc = history_values.get("train_acc")
    if acc is not None and np.isfinite(acc[i]):
        details.append(f"training error {100 * (1 - acc[i]):.1f}%")
    nc1 = history_values.get("nc1")
    if nc1 is not None and np.isfinite(nc1[i]):
        details.append(f"NC1 {nc1[i]:.3g}")
    return f"epoch {int(frames.epochs[i])}" + ("\n" + ", ".join(details) if details else "")

class ProjectionView:
    """The 2-D view of one epoch in an Axes: samples, means, classifier arrows; ``update(i)`` moves them."""

    def __init__(self, ax: Axes, frames: Frames, index: int, *, values: Mapping[str, np.ndarray], legend: bool = True,
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
            ideal = closed_polygon(canonical_target(3, 2))
            ax.plot(*ideal.T, color="0.5", ls=":", lw=1, zorder=1)
            (self.simplex,) = ax.plot(*closed_polygon(frames.means[index]).T, color="0.25", lw=1, zorder=3, gid=GID_SIMPLEX)
        ax.plot([0], [0], marker="+", color="k", ms=8, zorder=1)
        lim = frames.limit
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xlabel("1st principal direction of the class means\n(unit: average ‖μ_c − μ_G‖)")
        ax.set_ylabel("2nd principal direction")
        self.title = ax.set_title(frame_title(frames, values, index), fontsize=10)
        if legend:
            class_legend(ax, frames, colours)

    def update(self, i: int) -> list:
        f = self.frames
        if self.samples is not None:
            self.samples.set_offsets(f.samples[i])
        self.means.set_offsets(f.means[i])
        if self.arrows is not None:
            self.arrows.set_UVC(f.classifiers[i][:, 0], f.classifiers[i][:, 1])
        if self.simplex is not None:
            self.simplex.set_data(*closed_polygon(f.means[i]).T)
        self.title.set_text(frame_title(f, self.values, i))
        return [a for a in (self.samples, self.means, self.arrows, self.simplex, self.title) if a is not None]

class GramView:
    """Heatmap of the cosines of the centred class means at one epoch; ``update(i)`` changes the image."""

    def __init__(self, ax: Axes, frames: Frames, index: int, *, annotate: Optional[bool] = None):
        self.ax, self.frames = ax, frames
        C = frames.num_classes
        self.image = ax.imshow(frames.gram[index], vmin=-1, vmax=1, cmap="RdBu_r", gid=GID_GRAM)
        class_ticks(ax, frames.class_names)
        annotate = C <= 6 if annotate is None else annotate
        self.texts = []
        if annotate:
            G = frames.gram[index]
            self.texts = [[cell_text(ax, a, b, G[a, b], fontsize=8) for b in range(C)] for a in range(C)]
        self.title = ax.set_title(gram_title(frames, index), fontsize=10)

    def update(self, i: int) -> list:
        G = self.frames.gram[i]
        self.image.set_data(G)
        for a, row in enumerate(self.texts):
            for b, text in enumerate(row):
                text.set_text(f"{G[a, b]:.2f}")
                text.set_color(text_colour(G[a, b]))
        self.title.set_text(gram_title(self.frames, i))
        return [self.image, self.title] + [t for row in self.texts for t in row]

def text_colour(value: float) -> str:
    """White on the dark ends of the -1..1 colour scale, black in between."""
    return "white" if abs(value) > 0.6 else "black"

def cell_text(ax: Axes, row: int, column: int, value: float, fontsize: float):
    return ax.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=fontsize, color=text_colour(value))

def gram_title(frames: Frames, i: int) -> str:
    C = frames.num_classes
    deviation = np.nanmax(np.abs(frames.gram[i] - etf_gram(C)))
    return f"cos(μ_c − μ_G, μ_c' − μ_G), epoch {int(frames.epochs[i])}\nmax |G − G_ETF| = {deviation:.2f}"

def class_ticks(ax: Axes, names: Sequence[str]) -> None:
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

def metric_values(history: History) -> dict[str, np.ndarray]:
    return {k: history[k] for k in ("train_acc", "nc1", "nc3", "nc4")}

def draw_projection_3d(ax: Axes, frames: Frames, i: int) -> None:
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

def detached_figure(figsize: tuple[float, float], dpi: float) -> Figure:
    """A figure with an Agg canvas that pyplot does not manage (a notebook never shows it by itself)."""
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig

def freeze_layout(fig: Figure) -> None:
    """Run the layout engine once and keep its result, so that redrawing frames does not re-run it.

    Without a layout engine ``savefig`` also draws each frame once instead of twice.
    """
    fig.canvas.draw()
    with matplotlib.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)
