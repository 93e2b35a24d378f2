"""Is a figure readable on the book's page? Text too small once the figure is scaled to the page,
and text that overlaps other text, a legend or another panel.

The book's content column is about 690 px wide on a desktop. A notebook figure is shown at its own
size, scaled down to that width when it is wider, so a 15-inch, seven-panel figure has tick labels
about 5 px tall there. :func:`layout_problems` measures what a reader sees: every visible text's
height on the page, and every overlap between texts, legends and panels of a figure.

The book build runs this check on every figure a chapter displays (see ``book/_ext/ncedu_sphinx.py``):
a problem is written to the cell's stderr, which the build (``-W``) turns into an error.
"""

from __future__ import annotations

from typing import Iterator

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.transforms import Bbox

#: Width of the book's content column on a desktop, in CSS pixels.
PAGE_WIDTH_PX = 690
#: The smallest text height (font size in pixels on the page) a reader can read comfortably:
#: about 9 px; 8.5 px admits the 8-point legends of a 9-inch figure.
MIN_FONT_PX = 8.5
#: Two boxes overlap when they share more than this many square pixels (at the figure's dpi).
_OVERLAP_PX2 = 4.0


def page_scale(fig: Figure, page_width: float = PAGE_WIDTH_PX) -> float:
    """The factor by which the page shows the figure: 1 when it fits, page_width / width when wider."""
    return min(1.0, page_width / fig.bbox.width)


def _visible(artist) -> bool:
    while artist is not None:
        if not artist.get_visible():
            return False
        artist = getattr(artist, "axes", None) if not isinstance(artist, Axes) else None
    return True


def _drawn_tick_labels(ax: Axes) -> Iterator[Text]:
    if not ax.axison:  # ax.axis("off"): no ticks are drawn
        return
    for axis in (ax.xaxis, ax.yaxis):
        if not axis.get_visible():
            continue
        try:
            ticks = axis._update_ticks()  # the ticks a draw renders (inside the view limits)
        except AttributeError:  # pragma: no cover - a matplotlib without it
            ticks = axis.get_major_ticks()
        for tick in ticks:
            for label in (tick.label1, tick.label2):
                if label.get_visible() and label.get_text():
                    yield label


def _texts(fig: Figure) -> Iterator[tuple[str, object, Text]]:
    """(what, owner, text) for every text the figure draws, once each; owner is the Axes, Legend or Figure."""
    seen: set[int] = set()
    for what, owner, text in _all_texts(fig):
        if id(text) not in seen:
            seen.add(id(text))
            yield what, owner, text


def _all_texts(fig: Figure) -> Iterator[tuple[str, object, Text]]:
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for label in _drawn_tick_labels(ax):
            yield "tick label", ax, label
        for what, text in (("axis label", ax.xaxis.label), ("axis label", ax.yaxis.label),
                           ("title", ax.title), ("title", ax._left_title), ("title", ax._right_title)):
            if text.get_visible() and text.get_text():
                yield what, ax, text
        for text in ax.texts:
            if text.get_visible() and text.get_text():
                yield "text", ax, text
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            for text in legend.get_texts() + [legend.get_title()]:
                if text.get_visible() and text.get_text():
                    yield "legend", legend, text
    for legend in fig.legends:
        for text in legend.get_texts() + [legend.get_title()]:
            if text.get_visible() and text.get_text():
                yield "legend", legend, text
    for text in fig.texts + [t for t in (getattr(fig, "_suptitle", None), getattr(fig, "_supxlabel", None),
                                         getattr(fig, "_supylabel", None)) if t is not None]:
        if text.get_visible() and text.get_text():
            yield "figure text", fig, text


def _area(a: Bbox, b: Bbox) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _describe(text: Text) -> str:
    s = " ".join(text.get_text().split())
    return repr(s if len(s) <= 40 else s[:37] + "...")


def _legends(fig: Figure) -> list[tuple[Legend, object]]:
    found = [(ax.get_legend(), ax) for ax in fig.axes if ax.get_legend() is not None and ax.get_visible()]
    return found + [(legend, fig) for legend in fig.legends]


def layout_problems(fig: Figure, *, page_width: float = PAGE_WIDTH_PX, min_font_px: float = MIN_FONT_PX) -> list[str]:
    """What makes ``fig`` hard to read on the book's page, one sentence per problem (empty: none).

    * a text (tick label, axis label, title, legend entry, annotation) whose font is smaller than
      ``min_font_px`` pixels once the figure is scaled to ``page_width``;
    * two texts that overlap (tick labels running into each other, a title over the panel above);
    * a legend that covers another panel, or text of another panel.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    scale = page_scale(fig, page_width)
    problems: list[str] = []
    items = []
    for what, owner, text in _texts(fig):
        size = text.get_fontsize() * fig.dpi / 72 * scale
        if size < min_font_px - 1e-9:
            problems.append(f"{what} {_describe(text)} is {size:.1f} px tall on the page (< {min_font_px:g} px): "
                            f"a {fig.get_figwidth():.3g}-inch figure is scaled by {scale:.2f}")
        box = text.get_window_extent(renderer)
        if box.width > 0 and box.height > 0:
            items.append((what, owner, text, box))
            if box.x0 < -1 or box.x1 > fig.bbox.width + 1:
                problems.append(f"{what} {_describe(text)} runs beyond the figure's {'left' if box.x0 < -1 else 'right'} "
                                "edge (the page then shrinks the whole figure to fit it)")
    # text against text (legend entries are checked as one legend box below)
    plain = [item for item in items if item[0] != "legend"]
    for i in range(len(plain)):
        for j in range(i + 1, len(plain)):
            (wa, _, ta, ba), (wb, _, tb, bb) = plain[i], plain[j]
            if _area(ba, bb) > _OVERLAP_PX2:
                problems.append(f"{wa} {_describe(ta)} overlaps {wb} {_describe(tb)}")
    # a legend against other panels and their texts
    for legend, owner in _legends(fig):
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            if ax is owner or not ax.get_visible() or not ax.axison:
                continue
            if _area(box, ax.get_window_extent(renderer)) > _OVERLAP_PX2:
                problems.append(f"the legend of {_owner_name(owner)} covers the panel {_axes_name(ax)}")
        for what, other, text, tbox in plain:
            if other is not owner and _area(box, tbox) > _OVERLAP_PX2:
                problems.append(f"the legend of {_owner_name(owner)} covers {what} {_describe(text)}")
    return problems


def _axes_name(ax: Axes) -> str:
    title = ax.get_title() or ax.get_title("left")
    return repr(title) if title else f"#{ax.figure.axes.index(ax) + 1}"


def _owner_name(owner) -> str:
    return "the figure" if isinstance(owner, Figure) else f"panel {_axes_name(owner)}"


def install_display_check() -> None:
    """Check every figure a notebook displays: problems go to stderr, which fails the book's build.

    Wraps IPython's ``print_figure`` (what a notebook calls to turn a displayed figure into an
    image), so it must run before pyplot is first imported in the kernel: the book's Sphinx
    extension calls it from an IPython start-up file of the build's kernels.
    """
    import sys

    from IPython.core import pylabtools

    original = pylabtools.print_figure
    if getattr(original, "_ncedu_checked", False):
        return

    def print_figure(fig, *args, **kwargs):
        try:
            problems = layout_problems(fig)
        except Exception as err:  # the check must never break a chapter
            problems = [f"the layout check itself failed ({type(err).__name__}: {err})"]
        for problem in problems:
            print(f"ncedu figure check: {problem}", file=sys.stderr)
        return original(fig, *args, **kwargs)

    print_figure._ncedu_checked = True  # type: ignore[attr-defined]
    pylabtools.print_figure = print_figure
