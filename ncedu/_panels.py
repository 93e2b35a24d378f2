"""The figure behind the epoch scrubber: a few panels about one idea, updated in place per epoch.

Each chapter's scrubber shows what that chapter is about (``view=``):

=============  =====================================================================================
``geometry``   features, means and classifier arrows in the plane of the means; the Gram matrix of
               the centred means; NC1; training error, NC3 and NC4 (the whole story at a glance)
``features``   the plane of the means with the sample features shrinking onto their means; NC1
``means``      the class means only, spreading into a simplex; their Gram matrix; the NC2 metrics
``classifier`` means and classifier arrows turning onto them; each class's cosine
               ``cos(w_c, mu_c - mu_G)``; NC3
``decisions``  the network's decision regions against the nearest-class-centre cells; NC4
``layers``     NC1 of every recorded layer against its depth at the shown epoch (log scale, with the
               fitted geometric line of He & Su's law); each layer's NC1 over the epochs (needs a run
               trained with ``record_layers=``)
=============  =====================================================================================

A panel draws its artists once and moves them in ``update(i)`` (the i-th measured epoch), returning
the artists it changed, so that a frame costs one blitted redraw (:class:`ScrubberFigure`).
The figure is sized for the book's page (about 690 px wide, see :mod:`ncedu._layout`).
"""

from __future__ import annotations

from io import BytesIO
from typing import Any, Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.lines import Line2D
import matplotlib

from ._frames import Frames
from ._views import GID_CURVE, GID_TERMINAL, GramView, ProjectionView, class_colours, detached_figure, freeze_layout
from .history import History

#: The panels of each view, row by row (a row of one panel spans the figure's width).
VIEWS: dict[str, tuple[tuple[str, ...], ...]] = {
    "geometry": (("projection", "gram"), ("nc1", "errors")),
    "features": (("projection", "nc1"),),
    "means": (("means", "gram"), ("nc2",)),
    "classifier": (("classifier", "cosines"), ("nc3",)),
    "decisions": (("decisions", "nc4"),),
    "layers": (("layer_depth", "layer_curves"),),
}

#: Views whose panels show no classes, so the figure has no class legend.
_NO_CLASS_LEGEND = {"layers"}

#: Curves of the metric panels: (field, label, colour, style), whether the y axis is logarithmic,
#: and the y label. ``train_error`` is ``1 - train_acc``.
_CURVE_PANELS: dict[str, tuple[tuple[tuple[str, str, str, str], ...], bool, str]] = {
    "nc1": ((("nc1", "NC1", "tab:blue", "-"),), True, "NC1 (log scale)"),
    "errors": ((("train_error", "training error", "0.2", "-"), ("nc3", "NC3", "tab:green", "-"),
                ("nc4", "NC4", "tab:purple", "-")), False, "fraction / distance"),
    "nc2": ((("nc2_equinorm_means", "equal norms, means", "tab:blue", "-"),
             ("nc2_equinorm_classifiers", "equal norms, classifiers", "tab:blue", ":"),
             ("nc2_equiangular_means", "equal angles, means", "tab:orange", "-"),
             ("nc2_equiangular_classifiers", "equal angles, classifiers", "tab:orange", ":"),
             ("nc2_maxangle_means", "maximal angles, means", "tab:green", "-"),
             ("nc2_maxangle_classifiers", "maximal angles, classifiers", "tab:green", ":")), False, "NC2 metrics"),
    "nc3": ((("nc3", "NC3", "tab:green", "-"),), False, r"NC3 $\|W/\|W\|_F - M/\|M\|_F\|_F^2$"),
    "nc4": ((("nc4", "NC4: network ≠ nearest centre", "tab:purple", "-"),
             ("train_error", "training error", "0.2", "-")), False, "fraction of training samples"),
}

_WIDTH = 8.6  # inches: 688 px at the scrubber's 80 dpi, the page's content width
_ROW_HEIGHT = {"curves": 2.5, "geometry": 3.7}
_FONT = 9


def _values(history: History, field: str) -> np.ndarray:
    if field == "train_error":
        return 1.0 - history["train_acc"]
    return history[field]


class CurvesPanel:
    """Metric curves against the epoch, a marker on each at the shown epoch and a vertical cursor."""

    def __init__(self, ax: Axes, history: History, frames: Frames, index: int, kind: str) -> None:
        curves, log_y, ylabel = _CURVE_PANELS[kind]
        self.ax, self.epochs = ax, frames.epochs
        ax.set_xscale("log" if self.epochs.min() > 0 else "symlog")
        if log_y:
            ax.set_yscale("log")
        self.values, self.markers = {}, {}
        for field, label, colour, style in curves:
            y = _values(history, field)
            self.values[field] = y
            ax.plot(self.epochs, y, color=colour, ls=style, lw=1.5, label=label, gid=GID_CURVE)
            (self.markers[field],) = ax.plot([self.epochs[index]], [y[index]], "o", color=colour, ms=5, mec="k")
        tpt = history.terminal_phase_start()
        if tpt is not None:
            ax.axvline(tpt, color="tab:red", lw=1, ls=":", gid=GID_TERMINAL, label="terminal phase starts")
        self.cursor = ax.axvline(self.epochs[index], color="0.5", lw=1, ls="--")
        ax.set_xlabel("epoch (log scale)", fontsize=_FONT)
        ax.set_ylabel(ylabel, fontsize=_FONT)
        ax.tick_params(labelsize=_FONT)
        ax.grid(True, alpha=0.3)
        ncol = 2 if len(curves) > 3 else 1
        ax.legend(fontsize=_FONT, frameon=False, loc="upper right", ncol=ncol)

    def update(self, i: int) -> list:
        epoch = self.epochs[i]
        for field, marker in self.markers.items():
            marker.set_data([epoch], [self.values[field][i]])
        self.cursor.set_xdata([epoch, epoch])
        return list(self.markers.values()) + [self.cursor]


def _centred_cosines(history: History) -> np.ndarray:
    """(E, C): cos(w_c, mu_c - mu_G) at every measured epoch (mu_G the sample mean)."""
    W, M = history["W"], history.centred_means()
    num = np.einsum("ecp,ecp->ec", W, M)
    den = np.linalg.norm(W, axis=2) * np.linalg.norm(M, axis=2)
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


class CosinesPanel:
    """One bar per class: the cosine between its classifier row and its centred class mean (1 under NC3)."""

    def __init__(self, ax: Axes, history: History, frames: Frames, index: int) -> None:
        self.ax, self.frames = ax, frames
        self.cosines = _centred_cosines(history)
        C = frames.num_classes
        self.bars = ax.bar(np.arange(C), self.cosines[index], color=class_colours(C), edgecolor="k", lw=0.6)
        ax.axhline(1.0, color="0.4", ls=":", lw=1)
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_ylim(min(-0.1, float(np.nanmin(self.cosines)) - 0.05), 1.08)
        ax.set_xticks(np.arange(C))
        ax.set_xticklabels([str(c) for c in range(C)], fontsize=_FONT)
        ax.tick_params(labelsize=_FONT)
        ax.set_xlabel("class c", fontsize=_FONT)
        ax.set_ylabel(r"$\cos(w_c,\ \mu_c - \mu_G)$", fontsize=_FONT)
        self.title = ax.set_title(self._title(index), fontsize=_FONT)

    def _title(self, i: int) -> str:
        return f"classifier row vs centred mean (1 = aligned)\nsmallest cosine {np.nanmin(self.cosines[i]):.3f}"

    def update(self, i: int) -> list:
        for bar, value in zip(self.bars, self.cosines[i]):
            bar.set_height(value)
        self.title.set_text(self._title(i))
        return list(self.bars) + [self.title]


class DecisionPanel:
    """The network's decision regions in the plane of the means, with the nearest-centre cells drawn over them.

    Colours: ``argmax_c (w_c . h + b_c)`` at each point ``h`` of the plane that the other views
    show (the same aligned basis, centre and unit); black: the boundaries of the nearest-class-centre
    rule ``argmin_c ||h - mu_c||`` (distances in the full feature space). Under NC4 the colour
    boundaries run along the black lines.
    """

    resolution = 160

    def __init__(self, ax: Axes, history: History, frames: Frames, index: int) -> None:
        self.ax, self.frames = ax, frames
        means = history["class_means"].astype(np.float64)
        self.centre = frames.centre  # mu_G, the origin of every view
        self.M = means - self.centre[:, None, :]
        self.W, self.b = history["W"], history["b"]
        C = frames.num_classes
        self.colours = class_colours(C)[:, :3]
        lim = frames.limit
        self.coords = np.linspace(-lim, lim, self.resolution)
        gx, gy = np.meshgrid(self.coords, self.coords)
        self.grid = np.stack([gx.ravel(), gy.ravel()], axis=1)  # (G, 2) points of the plane
        image, share = self._image(index)
        self.image = ax.imshow(image, origin="lower", extent=(-lim, lim, -lim, lim), interpolation="nearest")
        self.samples = ax.scatter(*frames.samples[index].T, s=10, c=class_colours(C)[frames.labels], linewidths=0,
                                  zorder=3)
        self.means = ax.scatter(*frames.means[index].T, s=80, c=class_colours(C), edgecolors="k", zorder=4)
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
        ax.set_xlabel("1st direction of the means (unit: avg ‖μ_c − μ_G‖)", fontsize=_FONT)
        ax.set_ylabel("2nd direction", fontsize=_FONT)
        ax.tick_params(labelsize=_FONT)
        self.title = ax.set_title(self._title(index, share), fontsize=_FONT)

    def decisions(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(network, ncc) decisions on the grid at frame ``i``, each (resolution, resolution), indexed [y, x]."""
        f = self.frames
        B, r = f.basis[i], f.scale[i]  # (p, 2) aligned basis and unit of the plane
        W, b, M = self.W[i], self.b[i], self.M[i]
        logits = (W @ self.centre[i] + b)[None, :] + r * self.grid @ (W @ B).T
        coords_means = M @ B / r  # the means' coordinates in the plane
        off_plane = (M * M).sum(axis=1) / r**2 - (coords_means**2).sum(axis=1)  # ||part of mu_c off the plane||^2
        sq = ((self.grid[:, None, :] - coords_means[None, :, :]) ** 2).sum(axis=2) + off_plane[None, :]
        shape = (self.resolution, self.resolution)
        return logits.argmax(axis=1).reshape(shape), sq.argmin(axis=1).reshape(shape)

    def _image(self, i: int) -> tuple[np.ndarray, float]:
        network, ncc = self.decisions(i)
        rgb = 1.0 - 0.4 * (1.0 - self.colours[network])  # the class colour, lightened
        edge = np.zeros(ncc.shape, dtype=bool)
        edge[:, 1:] |= ncc[:, 1:] != ncc[:, :-1]
        edge[1:, :] |= ncc[1:, :] != ncc[:-1, :]
        rgb[edge] = 0.0
        return rgb, float(np.mean(network != ncc))

    def _title(self, i: int, share: float) -> str:
        return (f"epoch {int(self.frames.epochs[i])}: network regions (colours) vs nearest centre (black)\n"
                f"the two rules differ on {100 * share:.1f}% of the square")

    def update(self, i: int) -> list:
        image, share = self._image(i)
        self.image.set_data(image)
        self.samples.set_offsets(self.frames.samples[i])
        self.means.set_offsets(self.frames.means[i])
        self.title.set_text(self._title(i, share))
        return [self.image, self.samples, self.means, self.title]


def geometric_fit(values: np.ndarray) -> tuple[float, float]:
    r"""The least-squares line through ``(l, log v_l)``, ``l = 1..L``: the factor per layer and the value at ``l = 0``.

    Fits :math:`\log v_l \approx \log v_0 + l \log \rho` over the finite positive values (He & Su's law
    of data separation, PNAS 120(36), 2023, for ``v`` their separation fuzziness, or NC1, which is
    ``D / C`` for balanced classes and has the same factor). Returns ``(rho, v_0)``; ``(nan, nan)``
    with fewer than two usable values.

    Examples
    --------
    >>> rho, v0 = geometric_fit(5.0 * 0.5 ** np.arange(1, 9))    # exactly geometric: 5 * 0.5**l
    >>> round(rho, 12), round(v0, 12)
    (0.5, 5.0)
    """
    v = np.asarray(values, dtype=np.float64)
    layer = np.arange(1, v.size + 1, dtype=np.float64)
    ok = np.isfinite(v) & (v > 0)
    if ok.sum() < 2:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(layer[ok], np.log(v[ok]), 1)
    return float(np.exp(slope)), float(np.exp(intercept))


def _layer_values(history: History) -> np.ndarray:
    """(E, L) NC1 of every recorded layer; a ValueError naming ``record_layers`` when there is none."""
    if history.layers is None or "layer_nc1" not in history:
        raise ValueError("view='layers' needs a History with layer metrics: train with "
                         "record_layers=[names of layers] (ncedu.hooks.module_names(model, torch.nn.ReLU) lists them)")
    return np.asarray(history["layer_nc1"], dtype=np.float64)


def _layer_limits(values: np.ndarray) -> tuple[float, float]:
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size == 0:
        return 1e-3, 1.0
    low, high = float(positive.min()), float(positive.max())
    return low / 1.6, high * 1.6


def _layer_colours(count: int) -> np.ndarray:
    """One colour per layer, from the shallowest (dark) to the deepest (light), viridis."""
    return matplotlib.colormaps["viridis"](np.linspace(0.0, 0.85, count))[:, :3]


class LayerDepthPanel:
    """NC1 of every recorded layer against its depth at the shown epoch, on a log scale.

    The dots are ``layer_nc1`` at the shown epoch (layer ``l = 1..L`` in the order of
    ``history.layers``); the dashed line is the least-squares line of ``log NC1`` against ``l``
    (:func:`geometric_fit`), whose factor per layer ``rho`` the title gives; the grey line is the
    profile at the last measured epoch, for reference. Under He & Su's law of data separation the
    dots lie on a straight line.
    """

    def __init__(self, ax: Axes, history: History, frames: Frames, index: int) -> None:
        self.ax, self.epochs = ax, frames.epochs
        self.values = _layer_values(history)
        L = self.values.shape[1]
        self.layer = np.arange(1, L + 1)
        self.fits = [geometric_fit(row) for row in self.values]
        ax.set_yscale("log")
        ax.set_ylim(*_layer_limits(self.values))
        ax.set_xlim(0.5, L + 0.5)
        ax.plot(self.layer, self.values[-1], color="0.6", lw=1.2, ls="-", label=f"epoch {int(self.epochs[-1])}",
                gid=GID_CURVE)
        (self.fitted,) = ax.plot(self.layer, self._fitted(index), color="k", lw=1.2, ls="--", label="geometric fit")
        (self.profile,) = ax.plot(self.layer, self.values[index], "o-", color="tab:blue", ms=6, mec="k", lw=1.5,
                                  label="shown epoch")
        ax.set_xticks(self.layer)
        ax.tick_params(labelsize=_FONT)
        ax.set_xlabel("layer l (output of hidden block l)", fontsize=_FONT)
        ax.set_ylabel("NC1 of layer l (log scale)", fontsize=_FONT)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=_FONT, frameon=False, loc="lower left")
        self.title = ax.set_title(self._title(index), fontsize=_FONT)

    def _fitted(self, i: int) -> np.ndarray:
        rho, v0 = self.fits[i]
        return v0 * rho ** self.layer.astype(np.float64) if np.isfinite(rho) else np.full(self.layer.shape, np.nan)

    def _title(self, i: int) -> str:
        rho = self.fits[i][0]
        fit = f"fitted factor per layer ρ = {rho:.2f}" if np.isfinite(rho) else "no geometric fit"
        return f"epoch {int(self.epochs[i])}: NC1 through the layers\n{fit}"

    def update(self, i: int) -> list:
        self.profile.set_ydata(self.values[i])
        self.fitted.set_ydata(self._fitted(i))
        self.title.set_text(self._title(i))
        return [self.fitted, self.profile, self.title]


class LayerCurvesPanel:
    """Each recorded layer's NC1 against the epoch (log-log), coloured by depth, a marker on each at the shown epoch."""

    def __init__(self, ax: Axes, history: History, frames: Frames, index: int) -> None:
        self.ax, self.epochs = ax, frames.epochs
        self.values = _layer_values(history)
        L = self.values.shape[1]
        colours = _layer_colours(L)
        ax.set_xscale("log" if self.epochs.min() > 0 else "symlog")
        ax.set_yscale("log")
        ax.set_ylim(*_layer_limits(self.values))
        self.markers = []
        for j in range(L):
            ax.plot(self.epochs, self.values[:, j], color=colours[j], lw=1.4, gid=GID_CURVE)
            (marker,) = ax.plot([self.epochs[index]], [self.values[index, j]], "o", color=colours[j], ms=5, mec="k")
            self.markers.append(marker)
        tpt = history.terminal_phase_start()
        if tpt is not None:
            ax.axvline(tpt, color="tab:red", lw=1, ls=":", gid=GID_TERMINAL, label="terminal phase starts")
            ax.legend(fontsize=_FONT, frameon=False, loc="lower left")
        self.cursor = ax.axvline(self.epochs[index], color="0.5", lw=1, ls="--")
        norm = BoundaryNorm(np.arange(0.5, L + 1.5), L)
        bar = ax.figure.colorbar(ScalarMappable(norm=norm, cmap=ListedColormap(colours)), ax=ax,
                                 ticks=np.arange(1, L + 1), shrink=0.9)
        bar.set_label("layer l", fontsize=_FONT)
        bar.ax.tick_params(labelsize=_FONT)
        ax.set_xlabel("epoch (log scale)", fontsize=_FONT)
        ax.set_ylabel("NC1 (log scale)", fontsize=_FONT)
        ax.tick_params(labelsize=_FONT)
        ax.grid(True, alpha=0.3)
        ax.set_title("NC1 of every layer over training", fontsize=_FONT)

    def update(self, i: int) -> list:
        epoch = self.epochs[i]
        for j, marker in enumerate(self.markers):
            marker.set_data([epoch], [self.values[i, j]])
        self.cursor.set_xdata([epoch, epoch])
        return self.markers + [self.cursor]


class _ProjectionPanel:
    def __init__(self, ax: Axes, history: History, frames: Frames, index: int, *, samples: bool,
                 classifiers: bool, values: Mapping[str, np.ndarray]) -> None:
        self.view = ProjectionView(ax, frames, index, values=values, legend=False, samples=samples,
                                    classifiers=classifiers)
        self.ax = ax
        ax.set_xlabel("1st direction of the means (unit: avg ‖μ_c − μ_G‖)", fontsize=_FONT)
        ax.set_ylabel("2nd direction", fontsize=_FONT)
        ax.tick_params(labelsize=_FONT)
        self.view.title.set_fontsize(_FONT)

    def update(self, i: int) -> list:
        return self.view.update(i)


class _GramPanel:
    def __init__(self, ax: Axes, frames: Frames, index: int) -> None:
        self.view = GramView(ax, frames, index)
        self.ax = ax
        self.view.title.set_fontsize(_FONT)
        ax.figure.colorbar(self.view.image, ax=ax, shrink=0.85).ax.tick_params(labelsize=_FONT)

    def update(self, i: int) -> list:
        return self.view.update(i)


def _metric_values(history: History) -> dict[str, np.ndarray]:
    return {k: history[k] for k in ("train_acc", "nc1", "nc3", "nc4")}


class ScrubberFigure:
    """The scrubber's figure for one ``view`` (see :data:`VIEWS`), updated in place by ``update(i)``.

    Attributes: ``figure``; ``panels`` (name -> panel object with ``ax`` and ``update``);
    ``index`` (the frame shown); ``frames``.
    """

    def __init__(self, history: History, frames: Frames, index: int, *, view: str, dpi: float) -> None:
        if view not in VIEWS:
            raise ValueError(f"view must be one of {sorted(VIEWS)}, got {view!r}")
        self.frames, self.index, self.view = frames, index, view
        if view == "layers":
            _layer_values(history)  # a clear error before any figure is made
        rows = VIEWS[view]
        heights = [_ROW_HEIGHT["curves"] if all(n in _CURVE_PANELS for n in row) else _ROW_HEIGHT["geometry"]
                   for row in rows]
        fig = detached_figure((_WIDTH, sum(heights) + 0.5), dpi)
        grid = fig.add_gridspec(len(rows), 2, height_ratios=heights, width_ratios=[1.15, 1.0])
        values = _metric_values(history)
        self.panels: dict[str, Any] = {}
        for r, row in enumerate(rows):
            for c, name in enumerate(row):
                ax = fig.add_subplot(grid[r, :] if len(row) == 1 else grid[r, c])
                self.panels[name] = self._panel(name, ax, history, frames, index, values)
        if view not in _NO_CLASS_LEGEND:
            self._class_legend(fig, frames)
        self.figure = fig
        freeze_layout(fig)
        # Blitting: what never changes is drawn once and kept; each frame draws only the moving artists.
        self._moving = sorted(self.update(index), key=lambda artist: artist.get_zorder())
        for artist in self._moving:
            artist.set_animated(True)  # left out of ordinary draws, still included when saving
        fig.canvas.draw()
        self._background = fig.canvas.copy_from_bbox(fig.bbox)

    @staticmethod
    def _panel(name: str, ax: Axes, history: History, frames: Frames, index: int, values) -> Any:
        if name in _CURVE_PANELS:
            return CurvesPanel(ax, history, frames, index, name)
        if name == "gram":
            return _GramPanel(ax, frames, index)
        if name == "cosines":
            return CosinesPanel(ax, history, frames, index)
        if name == "decisions":
            return DecisionPanel(ax, history, frames, index)
        if name == "layer_depth":
            return LayerDepthPanel(ax, history, frames, index)
        if name == "layer_curves":
            return LayerCurvesPanel(ax, history, frames, index)
        samples, classifiers = {"projection": (True, True), "features": (True, False), "means": (False, False),
                                "classifier": (False, True)}[name]
        return _ProjectionPanel(ax, history, frames, index, samples=samples, classifiers=classifiers, values=values)

    @staticmethod
    def _class_legend(fig, frames: Frames) -> None:
        C = frames.num_classes
        if C > 20:
            return
        colours = class_colours(C)
        handles = [Line2D([], [], ls="", marker="o", ms=7, color=colours[c], mec="k", mew=0.5,
                          label=f"{c}: {name}") for c, name in enumerate(frames.class_names)]
        fig.legend(handles=handles, loc="outside lower center", ncol=min(C, 5), fontsize=_FONT, frameon=False)

    def update(self, i: int) -> list:
        """Show frame ``i`` (the i-th measured epoch): move every panel's artists; returns them."""
        self.index = int(i)
        changed: list = []
        for panel in self.panels.values():
            changed += panel.update(i)
        return changed

    def render_png(self, *, small: bool = False) -> bytes:
        """The figure as PNG bytes: the saved background with the moving artists drawn on top.

        Fast by default (light compression, what the live widget sends at every update); with
        ``small=True`` a 256-colour palette (no dithering), fully compressed, for web pages.
        """
        from PIL import Image  # a dependency of matplotlib

        canvas = self.figure.canvas
        canvas.restore_region(self._background)
        for artist in self._moving:
            self.figure.draw_artist(artist)
        image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = BytesIO()
        if small:
            image.convert("RGB").quantize(256, dither=0).save(buffer, format="png", optimize=True)
        else:
            image.save(buffer, format="png", compress_level=1)
        return buffer.getvalue()
