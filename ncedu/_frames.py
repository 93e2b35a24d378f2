"""Every measured epoch of a run projected onto one aligned plane (or space) of its class means.

Pure numpy, no matplotlib: :func:`project_history` computes, once per History, what every view
draws (the projection, the animation, the scrubber, the decision regions), so that all of them
show a class in the same place. The plane of an epoch is spanned by the top principal directions
of the centred class means ``mu_c - mu_G`` (``mu_G`` the sample mean); coordinates are in units
of ``r = avg_c ||mu_c - mu_G||``; each epoch's basis is rotated (orthogonal Procrustes) onto the
next epoch's, and the last epoch's onto the ideal simplex, so that an animation neither jumps
nor spins. See :mod:`ncedu.viz` for the conventions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._runinfo import check_history, class_names_of, require_arrays
from .geometry import _row_cosines as row_cosines
from .geometry import simplex_etf
from .history import History

__all__ = ["Frames", "project_history", "row_cosines", "view_basis", "procrustes", "canonical_target"]


@dataclass(frozen=True, eq=False)
class Frames:
    """Everything the geometry views draw, for every measured epoch, computed once.

    Coordinates are in units of ``scale[e] = avg_c ||mu_c - mu_G||`` about ``centre[e] = mu_G`` (see the
    module docstring); every view (projection, animation, scrubber, decision regions) uses this one plane.
    """

    epochs: np.ndarray  # (E,) int
    labels: np.ndarray  # (S,) int, labels of the sampled features
    centre: np.ndarray  # (E, p) the global means mu_G, the origin of the view
    class_names: tuple[str, ...]
    basis: np.ndarray  # (E, p, d) orthonormal columns spanning the view
    scale: np.ndarray  # (E,)
    samples: np.ndarray  # (E, S, d)
    means: np.ndarray  # (E, C, d)
    classifiers: np.ndarray  # (E, C, d) arrows: W * ||M||_F/||W||_F projected
    gram: np.ndarray  # (E, C, C) cosines of the centred means
    limit: float  # half-width of the fixed axis limits

    def __len__(self) -> int:
        return len(self.epochs)

    @property
    def num_classes(self) -> int:
        return self.means.shape[1]

    @property
    def dim(self) -> int:
        return self.means.shape[2]

def view_basis(M: np.ndarray, residuals: np.ndarray, dim: int) -> np.ndarray:
    """(p, dim) orthonormal basis: top principal directions of the centred means, completed from the residuals."""
    _, s, Vt = np.linalg.svd(M, full_matrices=False)
    tol = max(M.shape) * np.finfo(float).eps * (s[0] if s.size else 0.0)
    k = min(int(np.sum(s > tol)), dim)
    B = Vt[:k].T
    if k < dim:
        R = residuals - (residuals @ B) @ B.T
        _, _, Vr = np.linalg.svd(R, full_matrices=False)
        B = np.concatenate([B, Vr[: dim - k].T], axis=1)
    if B.shape[1] < dim:  # degenerate data: complete with any orthonormal directions
        Q, _ = np.linalg.qr(np.concatenate([B, np.eye(M.shape[1])], axis=1))
        B = Q[:, :dim]
    return B

def procrustes(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The orthogonal (d, d) R minimising ||source R - target||_F (rotations and reflections allowed)."""
    U, _, Vt = np.linalg.svd(source.T @ target)
    return U @ Vt

def canonical_target(num_classes: int, dim: int) -> np.ndarray:
    """Where the last epoch's means are rotated to: the simplex (class 0 on top, counter-clockwise)."""
    if dim == 3 and num_classes == 4:
        return simplex_etf(4, 3)
    angles = np.pi / 2 + 2 * np.pi * np.arange(num_classes) / num_classes
    polygon = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return np.concatenate([polygon, np.zeros((num_classes, dim - 2))], axis=1)

def project_history(history: History, dim: int = 2) -> Frames:
    """Project every measured epoch onto the (aligned) plane or space of its class means. See :class:`Frames`."""
    check_history(history)
    require_arrays(history, ("class_means", "W", "sample_features"), name="history", purpose="the geometry views")
    means = history["class_means"]
    W = history["W"]
    features = history["sample_features"].astype(np.float64)
    labels = history.sample_labels
    E, C, p = means.shape
    if p < dim:
        raise ValueError(f"the features have dimension {p}, too few for a {dim}-D view")
    if features.shape[1] != labels.shape[0]:
        raise ValueError(f"history has {features.shape[1]} sample_features but {labels.shape[0]} sample_labels")
    centre = history.global_mean()
    M = means - centre[:, None, :]
    scale = np.linalg.norm(M, axis=2).mean(axis=1)
    scale = np.where(scale > 0, scale, 1.0)
    residuals = features - means[np.arange(E)[:, None], labels[None, :]]
    bases = np.stack([view_basis(M[e], residuals[e], dim) for e in range(E)])

    # align: last epoch onto the ideal simplex, then each earlier epoch onto the one after it
    target = canonical_target(C, dim)
    for e in range(E - 1, -1, -1):
        coords = M[e] @ bases[e] / scale[e]
        bases[e] = bases[e] @ procrustes(coords, target)
        target = M[e] @ bases[e] / scale[e]

    w_norm = np.linalg.norm(W, axis=(1, 2))
    m_norm = np.linalg.norm(M, axis=(1, 2))
    w_scale = np.divide(m_norm, w_norm, out=np.zeros(E), where=w_norm > 0)
    per_epoch = scale[:, None, None]
    samples = np.einsum("esp,epd->esd", features - centre[:, None, :], bases) / per_epoch
    mean_xy = np.einsum("ecp,epd->ecd", M, bases) / per_epoch
    arrows = np.einsum("ecp,epd->ecd", W * w_scale[:, None, None], bases) / per_epoch
    gram = np.stack([row_cosines(M[e]) for e in range(E)])

    structure = max(np.abs(mean_xy).max(), np.abs(arrows).max(), 1.0)
    spread = np.quantile(np.abs(samples), 0.98) if samples.size else 0.0
    limit = 1.1 * max(structure, min(spread, 2.0 * structure))
    return Frames(
        epochs=history["epoch"], labels=labels, centre=centre, class_names=class_names_of(history, C), basis=bases,
        scale=scale,
        samples=samples, means=mean_xy, classifiers=arrows, gram=gram, limit=float(limit),
    )
