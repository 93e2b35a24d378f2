"""ncedu._layout: figures readable on the book's page, and every figure ncedu draws passes it."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402

from ncedu import viz  # noqa: E402
from ncedu._layout import MIN_FONT_PX, PAGE_WIDTH_PX, layout_problems, page_scale  # noqa: E402

from .test_viz import make_history  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_a_figure_wider_than_the_page_is_scaled_and_its_small_text_reported():
    fig, axes = plt.subplots(1, 4, figsize=(15, 3), dpi=100)
    assert page_scale(fig) == pytest.approx(PAGE_WIDTH_PX / 1500)
    problems = layout_problems(fig)
    # 10-pt tick labels at 100 dpi are 13.9 px, shown at 0.46 of their size: 6.4 px
    assert problems and all("px tall on the page" in p for p in problems)
    assert any("6.4 px" in p for p in problems)


def test_a_figure_that_fits_the_page_with_default_fonts_has_no_problem():
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100, layout="constrained")
    ax.plot([0, 1], [0, 1], label="a line")
    ax.set(xlabel="x", ylabel="y", title="title")
    ax.legend()
    assert layout_problems(fig) == []


def test_small_text_is_measured_after_scaling_not_in_points():
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100, layout="constrained")
    ax.tick_params(labelsize=6)  # 6 pt at 100 dpi: 8.3 px, not scaled
    assert 6 * 100 / 72 < MIN_FONT_PX
    assert any("tick label" in p for p in layout_problems(fig))


def test_a_legend_placed_over_the_next_panel_is_reported():
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3), dpi=100)
    left.plot([0, 1], label="a long legend entry that runs far to the right")
    left.legend(loc="upper left", bbox_to_anchor=(0.9, 1.0))
    right.plot([0, 1])
    problems = layout_problems(fig)
    assert any("covers the panel" in p for p in problems), problems


def test_overlapping_texts_and_text_beyond_the_edge_are_reported():
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.text(0.5, 0.5, "first label", transform=ax.transAxes)
    ax.text(0.52, 0.5, "second label", transform=ax.transAxes)
    ax.text(0.95, 0.2, "a label that runs out of the figure", transform=ax.transAxes)
    problems = layout_problems(fig)
    assert any("overlaps" in p for p in problems)
    assert any("beyond the figure's right edge" in p for p in problems)


@pytest.mark.parametrize("C", [3, 10])
@pytest.mark.parametrize(
    "draw",
    [viz.plot_collapse, viz.plot_gram, viz.plot_projection, viz.plot_spectra, viz.plot_decision_regions],
    ids=lambda f: f.__name__,
)
def test_every_figure_ncedu_draws_is_readable_on_the_page(draw, C):
    history = make_history(C=C, p=12, train_acc=np.r_[np.linspace(0.5, 0.99, 5), 1.0, 1.0, 1.0])
    fig = draw(history)
    assert layout_problems(fig) == []


def test_figures_of_overlaid_runs_are_readable_on_the_page():
    runs = [make_history(C=10, p=12, seed=s, config={"num_classes": 10, "weight_decay": w})
            for s, w in ((0, 5e-3), (1, 5e-4))]
    assert layout_problems(viz.plot_collapse(runs)) == []
