r"""Scrub through the epochs of a run: a live ipywidgets control, or a static HTML animation.

:func:`epoch_scrubber` shows, for the measured epoch chosen with a slider (or played with a
Play button), three views drawn by :mod:`ncedu.viz`:

* the sample features, class means and classifier arrows in the plane of the class means
  (as :func:`ncedu.viz.plot_projection`);
* the cosines of the centred class means, ``cos(mu_c - mu_G, mu_c' - mu_G)`` (as
  :func:`ncedu.viz.plot_gram`; the ideal simplex ETF has ``-1/(C-1)`` off the diagonal);
* NC1, NC3, NC4 and the training error against the epoch, with a marker at the chosen epoch.

In a live kernel it is built from core widgets only (``SelectionSlider``, ``Play``, ``Output``,
``HBox``/``VBox``, ``jslink``), which behave the same in ipywidgets 7.7 (Colab's default) and 8.
The figure and its artists are created once; moving the slider only updates their data and
re-renders one PNG into the ``Output``.

On the book's website there is no kernel: with the environment variable
``NCEDU_STATIC_WIDGETS=1`` (set by the book build), :func:`epoch_scrubber` returns instead
:func:`static_scrubber`'s self-contained JavaScript animation (matplotlib's player, as made by
``Animation.to_jshtml``: one frame per measured epoch, drawn by the same code) with its own slider.

ipywidgets and IPython are imported inside the functions, so ``import ncedu`` stays light.
"""

from __future__ import annotations

import base64
import re
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any, Optional

import numpy as np
from matplotlib import animation

from ._display import STATIC_ENV_VAR, static_output
from .history import History
from .viz import (
    GID_CURVE,
    GID_TERMINAL,
    _check_history,
    _detached_figure,
    _frames,
    _Frames,
    _GramView,
    _metric_values,
    _ProjectionView,
    _freeze_layout,
)

__all__ = ["epoch_scrubber", "static_scrubber", "animation_html", "STATIC_ENV_VAR", "STATIC_DPI"]

#: The environment variable that switches :func:`epoch_scrubber` to the static HTML animation.
#: Resolution of the frames of the static animation (dots per inch of a 12 x 3.9 inch figure).
STATIC_DPI = 80
#: Resolution of the live view.
LIVE_DPI = 80

_FIGSIZE = (12.0, 3.9)
_CURVES = (  # (field, label, colour) drawn in the lower-right panel, linear scale
    ("train_error", "train error", "0.2"),
    ("nc3", "NC3", "tab:green"),
    ("nc4", "NC4", "tab:purple"),
)


class _ScrubberView:
    """The scrubber's figure: projection, Gram heatmap and metric curves, updated in place by ``update(i)``.

    Attributes ``projection`` (:class:`ncedu.viz._ProjectionView`), ``gram``
    (:class:`ncedu.viz._GramView`), ``markers`` (field -> the Line2D marking the chosen epoch on
    that curve), ``cursors`` (vertical lines at the chosen epoch) and ``index`` (the frame shown).
    """

    def __init__(self, history: History, frames: _Frames, index: int, *, dpi: float) -> None:
        self.frames = frames
        self.index = index
        values = _metric_values(history)
        self.curves = {"train_error": 1.0 - values["train_acc"], "nc1": values["nc1"],
                       "nc3": values["nc3"], "nc4": values["nc4"]}
        fig = _detached_figure(_FIGSIZE, dpi)
        grid = fig.add_gridspec(2, 3, width_ratios=[1.2, 1.0, 1.25])
        ax_proj = fig.add_subplot(grid[:, 0])
        ax_gram = fig.add_subplot(grid[:, 1])
        ax_nc1 = fig.add_subplot(grid[0, 2])
        ax_rest = fig.add_subplot(grid[1, 2], sharex=ax_nc1)
        self.figure = fig
        self.projection = _ProjectionView(ax_proj, frames, index, values=values, legend=False)
        ax_proj.set_xlabel("1st principal direction of the means\n(unit: average ‖μ_c − μ_G‖)", fontsize=8)
        ax_proj.set_ylabel("2nd principal direction", fontsize=8)
        self.gram = _GramView(ax_gram, frames, index)
        fig.colorbar(self.gram.image, ax=ax_gram, shrink=0.8, label="cosine")
        self.markers: dict[str, Any] = {}
        self._draw_curves(ax_nc1, ["nc1"], {"nc1": ("NC1", "tab:blue")}, log_y=True)
        self._draw_curves(ax_rest, [f for f, _, _ in _CURVES], {f: (n, c) for f, n, c in _CURVES}, log_y=False)
        ax_nc1.set_title("metrics vs epoch (● = shown epoch)", fontsize=10)
        ax_nc1.set_ylabel("NC1 (log)", fontsize=8)
        ax_nc1.tick_params(labelbottom=False)
        ax_rest.set_xlabel("epoch (log scale)", fontsize=8)
        ax_rest.set_ylabel("fraction / distance", fontsize=8)
        tpt = history.terminal_phase_start()
        if tpt is not None:
            for ax in (ax_nc1, ax_rest):
                ax.axvline(tpt, color="tab:red", lw=1, ls=":", gid=GID_TERMINAL,
                           label="terminal phase starts" if ax is ax_rest else None)
        ax_rest.legend(fontsize=7, loc="upper right", frameon=False)
        self.cursors = [ax.axvline(frames.epochs[index], color="0.5", lw=1, ls="--") for ax in (ax_nc1, ax_rest)]
        _freeze_layout(fig)
        # Blitting: draw everything that never changes once, keep that image, and per update draw
        # only the moving artists on top of it (no axis, tick or label layout is recomputed).
        self._moving = sorted(self.update(index), key=lambda artist: artist.get_zorder())
        for artist in self._moving:
            artist.set_animated(True)  # left out of ordinary draws, still included when saving
        fig.canvas.draw()
        self._background = fig.canvas.copy_from_bbox(fig.bbox)

    def _draw_curves(self, ax, fields, names, *, log_y: bool) -> None:
        epochs = self.frames.epochs
        ax.set_xscale("log" if epochs.min() > 0 else "symlog")
        if log_y:
            ax.set_yscale("log")
        for field in fields:
            name, colour = names[field]
            ax.plot(epochs, self.curves[field], color=colour, lw=1.5, label=name, gid=GID_CURVE)
            (self.markers[field],) = ax.plot(
                [epochs[self.index]], [self.curves[field][self.index]], "o", color=colour, ms=6, mec="k"
            )
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=8)

    def update(self, i: int) -> list:
        """Show frame ``i`` (the i-th measured epoch): move every artist, re-plot nothing."""
        self.index = int(i)
        epoch = self.frames.epochs[i]
        changed = self.projection.update(i) + self.gram.update(i)
        for field, marker in self.markers.items():
            marker.set_data([epoch], [self.curves[field][i]])
            changed.append(marker)
        for cursor in self.cursors:
            cursor.set_xdata([epoch, epoch])
            changed.append(cursor)
        return changed

    def render_png(self, *, small: bool = False) -> bytes:
        """The figure as PNG bytes: the saved background with the moving artists drawn on top.

        By default fast (light compression, what the live widget sends at every update); with
        ``small=True`` reduced to a 256-colour palette (no dithering) and fully compressed, about
        three times smaller, for frames embedded in a web page.
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


def _check_fps(fps: Any) -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    return float(fps)


class _BlittedHTMLWriter(animation.HTMLWriter):
    """matplotlib's JavaScript-player writer, fed by the scrubber's fast renderer instead of a full ``savefig``.

    Produces the same HTML as ``Animation.to_jshtml`` (same template, same player, frames as
    embedded base64 PNGs), but each frame costs one blitted redraw of the moving artists.
    """

    def __init__(self, render_png, **kwargs: Any) -> None:
        super().__init__(embed_frames=True, **kwargs)
        self._render_png = render_png
        self.frame_format = "png"

    def grab_frame(self, **savefig_kwargs: Any) -> None:
        frames = getattr(self, "_saved_frames", None)
        if frames is None:  # a matplotlib whose HTMLWriter stores frames differently: the slow, sure path
            super().grab_frame(**savefig_kwargs)
            return
        frames.append(base64.encodebytes(self._render_png()).decode("ascii"))


# matplotlib's player loads Font Awesome 4 from a CDN for its button icons. The website must work
# offline and without third-party requests, so the stylesheet link is dropped and each icon is
# replaced by a Unicode symbol.
_PLAYER_ICONS = {  # only triangles and bars: glyphs that every common font has
    "fa fa-minus": "\u2212",
    "fa fa-fast-backward": "\u2759\u25c0\u25c0",
    "fa fa-step-backward": "\u2759\u25c0",
    "fa fa-play fa-flip-horizontal": "\u25c0",
    "fa fa-pause": "\u2759\u2759",
    "fa fa-play": "\u25b6",
    "fa fa-step-forward": "\u25b6\u2759",
    "fa fa-fast-forward": "\u25b6\u25b6\u2759",
    "fa fa-plus": "+",
}


def _offline_player(html: str) -> str:
    """The player's HTML without its CDN stylesheet, icons as Unicode symbols."""
    html = re.sub(r"<link[^>]*font-awesome[^>]*>", "", html)
    for css_class, symbol in _PLAYER_ICONS.items():
        html = html.replace(f'<i class="{css_class}"></i>', f'<span aria-hidden="true">{symbol}</span>')
    return html


def animation_html(anim: animation.Animation):
    """Any matplotlib animation as a self-contained HTML/JavaScript player that works offline.

    ``Animation.to_jshtml()`` embeds every frame, but its player loads its button icons from a
    CDN (Font Awesome), which fails offline and on a page that allows no third-party requests;
    this is the same player with the stylesheet link removed and the icons drawn as Unicode
    symbols. Use it for :func:`ncedu.viz.animate` or your own ``FuncAnimation`` on a page that
    must work without a kernel (the book's website).

    Parameters
    ----------
    anim : matplotlib.animation.Animation

    Returns
    -------
    IPython.display.HTML
        Its ``.data`` is the HTML text.
    """
    from IPython.display import HTML

    if not isinstance(anim, animation.Animation):
        raise TypeError(f"anim must be a matplotlib animation (e.g. from ncedu.viz.animate), got {type(anim).__name__}")
    return HTML(_offline_player(anim.to_jshtml()))


def static_scrubber(history: History, *, fps: float = 4, dpi: Optional[float] = None):
    """The scrubber as a self-contained HTML/JavaScript animation, for pages with no kernel.

    One frame per measured epoch, drawn by the same code as :func:`epoch_scrubber`, embedded as
    base64 PNGs in matplotlib's JavaScript player (the ``HTMLWriter`` behind
    ``Animation.to_jshtml``), which has its own slider and play buttons. Frames are 256-colour
    PNGs; at the default resolution a 50-epoch run of 10 classes embeds in about 1.5 MB
    (``benchmarks/bench_widgets.py`` measures it). The figure is not managed by pyplot, so a
    notebook shows no extra static image.

    Parameters
    ----------
    history : History
        Needs ``class_means``, ``W``, ``sample_features`` and ``sample_labels``.
    fps : float
        Frames (epochs) per second when playing.
    dpi : float, optional
        Resolution of the frames (default :data:`STATIC_DPI`); the size grows with its square.

    Returns
    -------
    IPython.display.HTML
        Its ``.data`` is the HTML text.
    """
    from IPython.display import HTML

    fps = _check_fps(fps)
    frames = _frames(_check_history(history), 2)
    view = _ScrubberView(history, frames, 0, dpi=STATIC_DPI if dpi is None else dpi)
    writer = _BlittedHTMLWriter(lambda: view.render_png(small=True), fps=fps, default_mode="once")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scrubber.html"
        with writer.saving(view.figure, path, dpi=view.figure.dpi):
            for i in range(len(frames)):
                view.update(i)
                writer.grab_frame()
        return HTML(_offline_player(path.read_text()))


def epoch_scrubber(history: History, *, fps: float = 4):
    """An epoch slider with a Play button over the projection, Gram heatmap and metric curves of a run.

    In a live kernel: a ``VBox`` holding an ``HBox`` of a ``Play`` button and a
    ``SelectionSlider`` of the measured epochs (linked in the browser with ``jslink``), above an
    ``Output`` into which the figure is redrawn whenever the slider moves. The figure and its
    artists are created once; an update only sets their data (``set_offsets``, ``set_UVC``,
    ``set_data``) and re-renders a PNG.

    With the environment variable ``NCEDU_STATIC_WIDGETS=1`` (the book build), returns
    :func:`static_scrubber` instead (an ``IPython.display.HTML``).

    Parameters
    ----------
    history : History
        Needs ``class_means``, ``W``, ``sample_features`` and ``sample_labels``.
    fps : float
        Epochs per second when playing.

    Returns
    -------
    ipywidgets.VBox or IPython.display.HTML
        The VBox also carries, for scripts and tests, the attributes ``slider``, ``play``,
        ``link`` (the ``jslink`` between them), ``output``, ``view`` (the figure and its
        artists, see ``_ScrubberView``), ``frames`` (the precomputed projections) and
        ``last_png`` (the PNG bytes last drawn).

    Examples
    --------
    >>> scrubber = epoch_scrubber(history)          # doctest: +SKIP
    >>> scrubber.slider.value = 120                 # doctest: +SKIP  (a measured epoch)
    """
    if static_output():
        return static_scrubber(history, fps=fps)
    import ipywidgets as widgets
    from IPython.display import Image, clear_output, display

    fps = _check_fps(fps)
    frames = _frames(_check_history(history), 2)
    view = _ScrubberView(history, frames, 0, dpi=LIVE_DPI)
    # start at the first epoch, so that Play runs through training in every ipywidgets version
    slider = widgets.SelectionSlider(
        options=[(str(int(e)), int(e)) for e in frames.epochs],
        value=int(frames.epochs[0]),
        description="epoch",
        continuous_update=True,
        layout=widgets.Layout(width="70%"),
    )
    play = widgets.Play(value=0, min=0, max=len(frames) - 1, step=1, interval=max(1, int(1000 / fps)),
                        description="play")
    link = widgets.jslink((play, "value"), (slider, "index"))  # in the browser: Play moves the slider
    output = widgets.Output()
    box = widgets.VBox([widgets.HBox([play, slider]), output])

    def show(index: int) -> None:
        view.update(index)
        box.last_png = view.render_png()
        with output:
            clear_output(wait=True)
            display(Image(data=box.last_png, format="png"))

    slider.observe(lambda change: show(change["new"]), names="index")
    box.slider, box.play, box.link, box.output, box.view, box.frames = slider, play, link, output, view, frames
    show(0)
    return box
