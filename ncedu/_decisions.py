"""NC4 in a picture: the network's decision regions against the nearest-class-centre cells.

Both rules are evaluated on a grid of the plane of the class means that every view of a run
draws (:mod:`ncedu._frames`), so a class sits in the same place here as in the projection and the
scrubber. Re-exported by :mod:`ncedu.viz`.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from ._frames import project_history
from ._runinfo import check_history, epoch_index, require_arrays
from ._views import GID_NCC, GID_REGIONS, class_colours
from .history import History
from .metrics import nearest_centre

__all__ = ["decision_maps", "plot_decision_regions"]


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
    extent : float, default 2.2
        Half-width of the square, in units of ``r``.
    resolution : int, default 300
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

    Examples
    --------
    >>> import torch, ncedu
    >>> _ = torch.manual_seed(0)
    >>> x, y = ncedu.data.load("gaussian", num_classes=3, dim=8, per_class=30, separation=6)
    >>> h = ncedu.train(ncedu.models.MLP(8, 3, width=16, depth=2), (x, y), epochs=20, batch_size=30,
    ...                 num_measurements=8, samples_per_class=10, progress=False)
    >>> coords, network, ncc, basis, scale, centre = decision_maps(h, resolution=50)
    >>> coords.shape, network.shape, basis.shape, centre.shape
    ((50,), (50, 50), (2, 16), (16,))
    >>> bool(np.allclose(basis @ basis.T, np.eye(2))), bool(np.allclose(centre, h.global_mean()[-1]))
    (True, True)
    """
    check_history(history)
    require_arrays(history, ("class_means", "W", "b", "sample_features"), name="history", purpose="decision_maps")
    if isinstance(extent, bool) or not isinstance(extent, (int, float, np.floating)) or not (np.isfinite(extent) and extent > 0):
        raise ValueError(f"extent must be a positive number, got {extent!r}")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise ValueError(f"resolution must be an integer of at least 2, got {resolution!r}")
    i = epoch_index(history, epoch)
    frames = project_history(history, 2)
    basis, scale, centre = frames.basis[i].T, float(frames.scale[i]), frames.centre[i]
    mu = history["class_means"][i].astype(np.float64)
    coords = np.linspace(-extent, extent, resolution)
    gx, gy = np.meshgrid(coords, coords)
    h = centre + scale * (gx.reshape(-1, 1) * basis[0] + gy.reshape(-1, 1) * basis[1])
    network = (h @ np.asarray(history["W"][i], dtype=np.float64).T + np.asarray(history["b"][i], dtype=np.float64)).argmax(axis=1)
    ncc = nearest_centre(h, mu)
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
    extent : float, default 2.2
        Half-width of the square, in units of ``avg_c ||mu_c - mu_G||``.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of the axes; the image has gid ``"ncedu-network-regions"``, the contour
        ``"ncedu-ncc-boundaries"``.

    Examples
    --------
    >>> import torch, ncedu
    >>> _ = torch.manual_seed(0)
    >>> x, y = ncedu.data.load("gaussian", num_classes=3, dim=8, per_class=30, separation=6)
    >>> h = ncedu.train(ncedu.models.MLP(8, 3, width=16, depth=2), (x, y), epochs=20, batch_size=30,
    ...                 num_measurements=8, samples_per_class=10, progress=False)
    >>> fig = plot_decision_regions(h)
    >>> fig.axes[0].images[0].get_gid(), fig.axes[0].get_title().splitlines()[0]
    ('ncedu-network-regions', 'epoch 20')
    >>> plt.close(fig)
    """
    check_history(history)
    require_arrays(history, ("class_means", "W", "b", "sample_features"), name="history",
                    purpose="plot_decision_regions")
    if not (np.isfinite(extent) and extent > 0):
        raise ValueError(f"extent must be a positive number, got {extent}")
    i = epoch_index(history, epoch)
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
