"""How fast the epoch scrubber is, and how big its static version gets, on the flagship run.

Prints, on the book's flagship Fashion-MNIST run (10 classes, p = 256, 200 sampled features):

* the one-time cost per history: projecting every measured epoch (``ncedu._frames.project_history``) and
  building the scrubber's figure;
* the median time of one slider update (update the artists' data + render the PNG that the
  ``Output`` shows; target <= 50 ms), against a plain implementation measured in the same run
  that re-plots the whole figure from scratch at every update;
* the size of the static HTML animation of the 50-measurement run (target <= 5 MB) and the
  time to make it.

Run: ``python benchmarks/bench_widgets.py`` (trains and caches the two flagship runs if absent,
about 15 s each on 2 CPU cores).
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import time

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

import ncedu  # noqa: E402
from ncedu import viz, widgets  # noqa: E402
from ncedu._frames import project_history  # noqa: E402
from ncedu._panels import ScrubberFigure  # noqa: E402

UPDATE_TARGET_MS = 50.0
SIZE_TARGET_MB = 5.0


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def plain_redraw(history, index: int) -> None:
    """The straightforward way: a new figure with every panel re-plotted, rendered to PNG."""
    frames = project_history(history)
    figure = ScrubberFigure(history, frames, index, view="geometry", dpi=widgets.LIVE_DPI)
    figure.figure.savefig(io.BytesIO(), format="png")


def main() -> None:
    torch.set_num_threads(min(2, torch.get_num_threads()))
    print(f"ncedu {ncedu.__version__}, matplotlib {matplotlib.__version__}, {os.cpu_count()} CPUs")
    history = ncedu.experiments.flagship(progress=False)
    history50 = ncedu.experiments.flagship(progress=False, num_measurements=50)
    S, p = history["sample_features"].shape[1:]
    print(f"flagship run: {len(history)} measured epochs, {history.num_classes} classes, p = {p}, {S} sampled features")

    # one-time precompute per history
    t_frames = best_of(lambda: project_history(history))
    frames = project_history(history)
    t_view = best_of(lambda: ScrubberFigure(history, frames, len(frames) - 1, view="geometry", dpi=widgets.LIVE_DPI),
                     repeats=3)
    print(f"precompute (project all {len(history)} epochs): {1000 * t_frames:.1f} ms; "
          f"build the scrubber figure once: {1000 * t_view:.0f} ms")

    # slider updates through the live widget (no kernel here: its display output is discarded)
    with contextlib.redirect_stdout(io.StringIO()):
        box = widgets.epoch_scrubber(history)
        options = [value for _, value in box.slider.options]
        box.slider.value = options[-1]  # so that every timed assignment below changes the epoch
        times = []
        for _ in range(3):
            for epoch in options:
                start = time.perf_counter()
                box.slider.value = epoch
                times.append(time.perf_counter() - start)
    median_ms = 1000 * statistics.median(times)
    p90_ms = 1000 * statistics.quantiles(times, n=10)[-1]
    view = box.view
    t_update = best_of(lambda: view.update(7), repeats=20)
    t_render = best_of(view.render_png, repeats=20)
    t_plain = best_of(lambda: plain_redraw(history, 7), repeats=3)
    verdict = "OK" if median_ms <= UPDATE_TARGET_MS else "OVER TARGET"
    print(f"slider update (set artists' data + render PNG), {len(times)} updates: median {median_ms:.1f} ms, "
          f"p90 {p90_ms:.1f} ms (target <= {UPDATE_TARGET_MS:.0f} ms: {verdict})")
    print(f"  of which: update artists {1000 * t_update:.2f} ms, render PNG {1000 * t_render:.1f} ms "
          f"({len(box.last_png) / 1e3:.0f} kB, {view.figure.canvas.get_width_height()} px)")
    print(f"  plain re-plot of the whole figure: {1000 * t_plain:.0f} ms -> the scrubber is "
          f"{1000 * t_plain / median_ms:.1f}x faster")

    # the static HTML animation of 50 measured epochs
    start = time.perf_counter()
    page = widgets.static_scrubber(history50)
    t_static = time.perf_counter() - start
    size_mb = len(page.data.encode()) / 2**20
    verdict = "OK" if size_mb <= SIZE_TARGET_MB else "OVER TARGET"
    frames_in_page = page.data.count('"data:image/png;base64,')
    print(f"static scrubber of {len(history50)} epochs: {frames_in_page} frames, {size_mb:.2f} MB "
          f"(target <= {SIZE_TARGET_MB:.0f} MB: {verdict}), made in {t_static:.1f} s at {widgets.STATIC_DPI} dpi")


if __name__ == "__main__":
    main()
