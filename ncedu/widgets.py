r"""Scrub through the epochs of a run: a live ipywidgets control, or a static HTML animation.

:func:`epoch_scrubber` shows, for the measured epoch chosen with a slider (or played), the panels
of one *view* (``view=``, see :data:`ncedu._panels.VIEWS`), so that each chapter shows what it is
about: ``"geometry"`` (the plane of the class means, the Gram matrix of the centred means and the
metric curves: the whole story), ``"features"`` (NC1: features shrinking onto their means),
``"means"`` (NC2: the means spreading into a simplex), ``"classifier"`` (NC3: classifier rows
turning onto the means), ``"decisions"`` (NC4: the network's regions against the
nearest-centre cells) and ``"layers"`` (NC1 of every recorded layer against its depth, with the
fitted geometric line of He & Su's law of data separation, and each layer's NC1 over the epochs;
for runs trained with ``record_layers=``).

In a live kernel it is built from core widgets only and every link runs in the kernel, because
Colab's ipywidgets 7.7.1 does not run ``jslink`` reliably (googlecolab/colabtools#1612) and loads
no icon font (its ``Play`` buttons show no symbols, #1302): a ``SelectionSlider`` of the measured
epochs, text buttons (back, play/pause, forward) and an ``Image`` that shows the figure. The
kernel observes the slider and redraws; playing steps the slider from a background thread. The
same code runs on ipywidgets 7.7 and 8. The figure and its artists are created once; moving the
slider only updates their data and re-renders one PNG.

On the book's website there is no kernel: with the environment variable
``NCEDU_STATIC_WIDGETS=1`` (set by the book build), :func:`epoch_scrubber` returns instead
:func:`static_scrubber`'s self-contained JavaScript animation (matplotlib's player, as made by
``Animation.to_jshtml``, with its icons drawn as Unicode symbols: one frame per measured epoch,
drawn by the same code) with its own slider.

ipywidgets and IPython are imported inside the functions, so ``import ncedu`` stays light.
"""

from __future__ import annotations

import base64
import re
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np
from matplotlib import animation

from ._display import STATIC_ENV_VAR, static_output
from ._panels import VIEWS, ScrubberFigure
from .history import History
from ._frames import project_history
from ._runinfo import check_history

if TYPE_CHECKING:  # notebook-only libraries, imported inside the functions that need them
    import ipywidgets
    from IPython.display import HTML

__all__ = ["epoch_scrubber", "static_scrubber", "animation_html", "STATIC_ENV_VAR", "STATIC_DPI", "VIEWS"]

#: Resolution of the frames of the static animation and of the live view (dots per inch of an
#: 8.6-inch-wide figure: 688 px, the width of the book's content column).
STATIC_DPI = 80
LIVE_DPI = 80


def _check_view(view: Any) -> str:
    if not isinstance(view, str) or view not in VIEWS:
        raise ValueError(f"view must be one of {sorted(VIEWS)}, got {view!r}")
    return view


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


def animation_html(anim: animation.Animation) -> "HTML":
    """Any matplotlib animation as a self-contained HTML/JavaScript player that works offline.

    ``Animation.to_jshtml()`` embeds every frame, but its player loads its button icons from a
    CDN (Font Awesome), which fails offline and on a page that allows no third-party requests;
    this is the same player with the stylesheet link removed and the icons drawn as Unicode
    symbols. Use it for :func:`ncedu.viz.animate` or your own ``FuncAnimation`` on a page that
    must work without a kernel (the book's website).

    Parameters
    ----------
    anim : matplotlib.animation.Animation
        E.g. from :func:`ncedu.viz.animate`.

    Returns
    -------
    IPython.display.HTML
        Its ``.data`` is the HTML text.

    Examples
    --------
    >>> import matplotlib.figure
    >>> fig = matplotlib.figure.Figure(figsize=(1, 1))
    >>> line, = fig.add_subplot().plot([0, 1], [0, 1])
    >>> anim = animation.FuncAnimation(fig, lambda k: line.set_ydata([k, 1 - k]), frames=2)
    >>> html = animation_html(anim).data
    >>> "<script" in html, "font-awesome" in html     # the player, with no stylesheet from a CDN
    (True, False)
    """
    from IPython.display import HTML

    if not isinstance(anim, animation.Animation):
        raise TypeError(f"anim must be a matplotlib animation (e.g. from ncedu.viz.animate), got {type(anim).__name__}")
    return HTML(_offline_player(anim.to_jshtml()))


def static_scrubber(history: History, *, view: str = "geometry", fps: float = 4,
                    dpi: Optional[float] = None) -> "HTML":
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
        Needs ``class_means``, ``W``, ``b``, ``sample_features`` and ``sample_labels``.
    view : str, default "geometry"
        Which panels to show (see :func:`epoch_scrubber`).
    fps : float, default 4
        Frames (epochs) per second when playing.
    dpi : float, optional
        Resolution of the frames (default :data:`STATIC_DPI`); the size grows with its square.

    Returns
    -------
    IPython.display.HTML
        Its ``.data`` is the HTML text.

    Examples
    --------
    >>> import torch, ncedu
    >>> _ = torch.manual_seed(0)
    >>> x, y = ncedu.data.load("gaussian", num_classes=3, dim=8, per_class=30, separation=6)
    >>> h = ncedu.train(ncedu.models.MLP(8, 3, width=16, depth=2), (x, y), epochs=20, batch_size=30,
    ...                 num_measurements=8, samples_per_class=10, progress=False)
    >>> html = static_scrubber(h, view="means").data
    >>> html.count("data:image/png;base64") == len(h)     # one frame per measured epoch
    True
    """
    from IPython.display import HTML

    fps = _check_fps(fps)
    view = _check_view(view)
    frames = project_history(check_history(history), 2)
    figure = ScrubberFigure(history, frames, 0, view=view, dpi=STATIC_DPI if dpi is None else dpi)
    writer = _BlittedHTMLWriter(lambda: figure.render_png(small=True), fps=fps, default_mode="once")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scrubber.html"
        with writer.saving(figure.figure, path, dpi=figure.figure.dpi):
            for i in range(len(frames)):
                figure.update(i)
                writer.grab_frame()
        return HTML(_offline_player(path.read_text()))


class _Player:
    """Plays a slider forward from a background thread (kernel side: no Play widget, no jslink)."""

    def __init__(self, slider, button, fps: float) -> None:
        self.slider, self.button, self.interval = slider, button, 1.0 / fps
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()

    @property
    def playing(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.playing:
            return
        if self.slider.index == len(self.slider.options) - 1:
            self.slider.index = 0  # from the end: play again from the start
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ncedu-epoch-scrubber", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                if self.slider.index >= len(self.slider.options) - 1:
                    break
                self.slider.index += 1
        finally:
            self.button.value = False

    def join(self, timeout: Optional[float] = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


def epoch_scrubber(history: History, *, view: str = "geometry", fps: float = 4) -> Union["ipywidgets.VBox", "HTML"]:
    """An epoch slider with play and step buttons over the panels of one view of a run.

    In a live kernel: a ``VBox`` holding an ``HBox`` of text buttons (``◀ back``, ``▶ play`` /
    ``❚❚ pause``, ``forward ▶``) and a ``SelectionSlider`` of the measured epochs, above an
    ``Image`` of the figure. Everything is linked in the kernel (``observe``), never in the
    browser, so it works where ``jslink`` does not (Colab's ipywidgets 7.7.1); the buttons are
    labelled with text, not an icon font. Playing steps the slider from a background thread,
    ``fps`` epochs per second. The figure's artists are created once; an update only sets their
    data and re-renders a PNG.

    With the environment variable ``NCEDU_STATIC_WIDGETS=1`` (the book build), returns
    :func:`static_scrubber` instead (an ``IPython.display.HTML``).

    Parameters
    ----------
    history : History
        Needs ``class_means``, ``W``, ``b``, ``sample_features`` and ``sample_labels``.
    view : {"geometry", "features", "means", "classifier", "decisions", "layers"}, default "geometry"
        Which panels to show (module docstring); ``"geometry"`` shows everything at a glance.
        ``"layers"`` needs a History with layer metrics (``ncedu.train(..., record_layers=[...])``)
        and raises a ``ValueError`` that says so otherwise.
    fps : float, default 4
        Epochs per second when playing.

    Returns
    -------
    ipywidgets.VBox or IPython.display.HTML
        The VBox also carries, for scripts and tests, the attributes ``slider``, ``play_button``
        (a ``ToggleButton``), ``back``, ``forward``, ``player`` (its ``join()`` waits until playing
        ends), ``image`` (the ``Image`` widget), ``view`` (the figure and its panels,
        :class:`ncedu._panels.ScrubberFigure`), ``frames`` (the precomputed projections) and
        ``last_png`` (the PNG bytes last drawn).

    Examples
    --------
    Outside a notebook the widget is built but not shown; scripts drive it through its attributes:

    >>> import torch, ncedu
    >>> _ = torch.manual_seed(0)
    >>> x, y = ncedu.data.load("gaussian", num_classes=3, dim=8, per_class=30, separation=6)
    >>> h = ncedu.train(ncedu.models.MLP(8, 3, width=16, depth=2), (x, y), epochs=20, batch_size=30,
    ...                 num_measurements=8, samples_per_class=10, progress=False)
    >>> scrubber = epoch_scrubber(h, view="classifier")
    >>> scrubber.slider.value = 13            # a measured epoch: the figure is redrawn
    >>> scrubber.forward.click()
    >>> scrubber.slider.value, scrubber.last_png[1:4]
    (20, b'PNG')
    """
    if static_output():
        return static_scrubber(history, view=view, fps=fps)
    import ipywidgets as widgets

    fps = _check_fps(fps)
    view = _check_view(view)
    frames = project_history(check_history(history), 2)
    figure = ScrubberFigure(history, frames, 0, view=view, dpi=LIVE_DPI)
    slider = widgets.SelectionSlider(
        options=[(str(int(e)), int(e)) for e in frames.epochs],
        value=int(frames.epochs[0]),
        description="epoch",
        continuous_update=True,
        layout=widgets.Layout(width="55%"),
    )
    back = widgets.Button(description="◀ back", tooltip="previous measured epoch", layout=widgets.Layout(width="auto"))
    play = widgets.ToggleButton(value=False, description="▶ play", tooltip="play through the epochs",
                                layout=widgets.Layout(width="auto"))
    forward = widgets.Button(description="forward ▶", tooltip="next measured epoch",
                             layout=widgets.Layout(width="auto"))
    image = widgets.Image(format="png")
    box = widgets.VBox([widgets.HBox([back, play, forward, slider]), image])
    player = _Player(slider, play, fps)

    def show(index: int) -> None:
        figure.update(index)
        box.last_png = figure.render_png()
        image.value = box.last_png

    def step(delta: int) -> None:
        slider.index = int(np.clip(slider.index + delta, 0, len(frames) - 1))

    def toggle(change) -> None:
        play.description = "❚❚ pause" if change["new"] else "▶ play"
        if change["new"]:
            player.start()
        else:
            player.stop()

    slider.observe(lambda change: show(change["new"]), names="index")
    play.observe(toggle, names="value")
    back.on_click(lambda _: step(-1))
    forward.on_click(lambda _: step(+1))
    box.slider, box.play_button, box.back, box.forward, box.player = slider, play, back, forward, player
    box.image, box.view, box.frames = image, figure, frames
    show(0)
    return box
