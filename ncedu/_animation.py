"""The paper's teaser animation from a real run, and saving any animation as a GIF.

Re-exported by :mod:`ncedu.viz`. The frames are the views of :mod:`ncedu._views` on the plane
of :mod:`ncedu._frames`; :func:`ncedu.widgets.animation_html` shows an animation on a page with
no kernel.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import numpy as np
from matplotlib import animation

from ._frames import project_history
from ._io import atomic_path
from ._runinfo import check_history
from ._views import ProjectionView, detached_figure, freeze_layout, metric_values
from .history import History

__all__ = ["animate", "save_gif"]

PathLike = Union[str, "os.PathLike[str]"]


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
    fps : float, default 5
        Frames (epochs) per second.

    Returns
    -------
    matplotlib.animation.FuncAnimation
        On a figure pyplot does not manage. Show it in a notebook or on a web page with
        :func:`ncedu.widgets.animation_html` (an embedded player that needs no kernel and no
        network), or save it with :func:`save_gif`.

    Examples
    --------
    >>> import torch, ncedu
    >>> _ = torch.manual_seed(0)
    >>> x, y = ncedu.data.load("gaussian", num_classes=3, dim=8, per_class=30, separation=6)
    >>> h = ncedu.train(ncedu.models.MLP(8, 3, width=16, depth=2), (x, y), epochs=20, batch_size=30,
    ...                 num_measurements=8, samples_per_class=10, progress=False)
    >>> anim = animate(h, fps=4)
    >>> type(anim).__name__
    'FuncAnimation'
    >>> path = save_gif(anim, "collapse.gif")     # one frame per measured epoch
    >>> path.name, path.stat().st_size > 0
    ('collapse.gif', True)
    """
    check_history(history)
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    frames = project_history(history, 2)
    fig = detached_figure((8.0, 5.6), dpi=100)
    ax = fig.add_subplot()
    view = ProjectionView(ax, frames, 0, values=metric_values(history), legend=True)
    fig.suptitle("Neural collapse in the plane of the class means", fontsize=11)
    freeze_layout(fig)
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
        ``path``.

    Examples
    --------
    Any matplotlib animation (here one of two frames; :func:`animate` makes the book's):

    >>> import matplotlib.figure
    >>> fig = matplotlib.figure.Figure(figsize=(1, 1))
    >>> line, = fig.add_subplot().plot([0, 1], [0, 1])
    >>> anim = animation.FuncAnimation(fig, lambda k: line.set_ydata([k, 1 - k]), frames=2)
    >>> save_gif(anim, "two-frames.gif", fps=2).suffix
    '.gif'
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
