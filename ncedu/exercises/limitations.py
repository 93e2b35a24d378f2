r"""The coding exercise of the chapter "The paper's limitations, answered": a principal-subspace score.

* ``subspace_score(H_train, H, d)``: for each row ``h`` of ``H``, ``||P_d (h - mu)|| / ||h - mu||``,
  with ``mu`` the mean of the training features ``H_train`` and ``P_d`` the orthogonal projector
  onto the eigenvectors of the ``d`` largest eigenvalues of their covariance
  ``Sigma_T = (1/N) sum_i (h_i - mu)(h_i - mu)^T``: the cosine of the angle between the centred
  feature and the top principal subspace of the training features. It is the score of NECO
  (Ammar, Belkhir, Popescu, Manzanera & Franchi, ICLR 2024) without the per-coordinate
  standardisation of its public implementations, and :func:`ncedu.ood.principal_subspace_score`.

The hidden cases put the features far from the origin (so that forgetting to centre shows), give
the scored features a mean of their own (so that centring them at their own mean shows), use
several ``d`` (1, and ``p - 1``), and include training features collapsed exactly onto the
vertices of a simplex, whose covariance has a repeated top eigenvalue (any orthonormal basis of
its top eigenspace gives the same projector) and a zero eigenvalue below it.

The reference and every wrong variant are plain numpy (eigenvectors of the covariance formed
explicitly, projectors as matrices), independent of :mod:`ncedu.ood`, which works from a singular
value decomposition.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ._engine import Exercise, _Case, _Finding, _m, _ShapeHint

# (seed, N, p, M, d, distance of the training mean from the origin)
_SUBSPACE: tuple[tuple[int, int, int, int, int, float], ...] = (
    (701, 40, 5, 12, 2, 20.0),
    (702, 30, 3, 10, 1, 8.0),    # d = 1
    (703, 60, 8, 15, 3, 50.0),
    (704, 25, 6, 9, 5, 10.0),    # d = p - 1
    (705, 50, 4, 20, 2, 0.5),    # near the origin
)


def _spread(p: int) -> np.ndarray:
    """Distinct standard deviations per direction, so that every eigenvalue stands apart."""
    return np.linspace(3.0, 0.4, p)


def _anisotropic_case(seed: int, N: int, p: int, M: int, d: int, offset: float) -> _Case:
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    direction = rng.standard_normal(p)
    centre = offset * direction / np.linalg.norm(direction)
    H_train = centre + (rng.standard_normal((N, p)) * _spread(p)) @ Q.T
    shift = 1.5 * rng.standard_normal(p)                      # the scored features have a mean of their own
    H = centre + shift + 1.2 * rng.standard_normal((M, p)) * _spread(p)[::-1]
    note = f"d={d}" + (", features far from the origin" if offset >= 10 else "")
    return _Case(args=(H_train, H, d), dims={"N": N, "p": p, "M": M, "d": d}, note=note,
                 data={"H_train": H_train, "H": H, "d": d})


def _collapsed_case() -> _Case:
    """Training features exactly at the 4 vertices of a simplex (rank-3 covariance, top eigenvalue repeated)."""
    rng = np.random.default_rng(706)
    C, p, n, M = 4, 7, 5, 11
    E = np.eye(C) - 1.0 / C                                    # centred standard basis of R^C (rank C - 1)
    U, _, _ = np.linalg.svd(E)
    vertices = np.sqrt(C / (C - 1)) * E @ U[:, : C - 1]       # (C, C-1) unit vectors, cosines -1/(C-1)
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    means = 30.0 + 4.0 * vertices @ Q[:, : C - 1].T
    H_train = np.repeat(means, n, axis=0)
    H = means[rng.integers(0, C, size=M)] + rng.standard_normal((M, p))
    note = "training features collapsed onto a simplex (repeated top eigenvalue), d=3"
    return _Case(args=(H_train, H, C - 1), dims={"N": C * n, "p": p, "M": M, "d": C - 1}, note=note,
                 data={"H_train": H_train, "H": H, "d": C - 1})


def _subspace_cases() -> list[_Case]:
    return [_anisotropic_case(*spec) for spec in _SUBSPACE] + [_collapsed_case()]


def _eig(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and eigenvectors (columns) of a symmetric matrix."""
    values, vectors = np.linalg.eigh((S + S.T) / 2)
    return values[::-1], vectors[:, ::-1]


def _score(case: _Case, *, centre_train: bool = True, centre_features: str = "train", d_shift: int = 0,
           smallest: bool = False, rows: bool = False, power: float = 1.0, residual: bool = False,
           normalise: bool = True, standardise: bool = False) -> Optional[np.ndarray]:
    """``||P_d (h - mu)|| / ||h - mu||``, and the usual ways of getting it wrong."""
    H_train, H, d = case.data["H_train"], case.data["H"], case.data["d"]
    p = H_train.shape[1]
    k = d + d_shift
    if not 1 <= k <= p:
        return None
    mu = H_train.mean(axis=0)
    A, B = H_train.astype(np.float64), H.astype(np.float64)
    if standardise:
        sd = A.std(axis=0)
        A, B, mu = (A - mu) / sd, (B - mu) / sd, np.zeros(p)
    Ac = A - mu if centre_train else A
    _, V = _eig(Ac.T @ Ac / len(A))
    if smallest:
        V = V[:, ::-1]
    # rows: the last k rows of eigh's (ascending) eigenvector matrix taken as eigenvectors, as if it were Vt
    basis = V[:, ::-1][-k:].T if rows else V[:, :k]
    P = basis @ basis.T
    R = {"train": B - mu, "none": B, "own": B - B.mean(axis=0)}[centre_features]
    part = R @ (np.eye(p) - P) if residual else R @ P
    top = np.linalg.norm(part, axis=1)
    if not normalise:
        return top
    return (top / np.linalg.norm(R, axis=1)) ** power


def _reference(case: _Case) -> np.ndarray:
    return _score(case)


def _in_unit_interval(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    if np.any(value < -1e-9) or np.any(value > 1 + 1e-9):
        return _Finding("subspace_outside_unit_interval", "some values are outside [0, 1], but the norm of a "
                        "projection is never larger than the norm of the vector (the score is a cosine)")
    return None


_VARIANTS = (
    _m("subspace_smallest_components", "looks like the eigenvectors of the d smallest eigenvalues: np.linalg.eigh "
       "returns them in ascending order, so the top d are the last d columns", lambda c: _score(c, smallest=True)),
    _m("subspace_eigenvector_rows", "looks like rows of the eigenvector matrix were used as eigenvectors: "
       "np.linalg.eigh returns the eigenvectors as the columns (vectors[:, j]), and the SVD's Vt as the rows",
       lambda c: _score(c, rows=True)),
    _m("subspace_not_centred", "looks like nothing was centred: the principal directions are those of the "
       "covariance of the training features about their mean mu, and the score is that of h - mu",
       lambda c: _score(c, centre_train=False, centre_features="none")),
    _m("subspace_feature_not_centred", "the subspace looks right, but the feature h itself was scored instead of "
       "h - mu: centre the scored features at the training mean too", lambda c: _score(c, centre_features="none")),
    _m("subspace_centred_at_own_mean", "looks like H was centred at its own mean; centre it at the mean mu of the "
       "training features (a detector scores one feature at a time, whatever the others are)",
       lambda c: _score(c, centre_features="own")),
    _m("subspace_squared", "looks like the ratio of squared norms; the score is the ratio of the norms themselves "
       "(the cosine of the angle, not its square)", lambda c: _score(c, power=2.0)),
    _m("subspace_residual", "looks like the part outside the subspace, ||(I - P)(h - mu)|| / ||h - mu||, the sine "
       "of the angle; the score is the part inside it", lambda c: _score(c, residual=True)),
    _m("subspace_not_normalised", "looks like ||P (h - mu)|| without the division by ||h - mu||",
       lambda c: _score(c, normalise=False)),
    _m("subspace_one_component_too_many", "looks like d + 1 principal directions; use exactly d",
       lambda c: _score(c, d_shift=1)),
    _m("subspace_one_component_too_few", "looks like d - 1 principal directions; use exactly d",
       lambda c: _score(c, d_shift=-1)),
    _m("subspace_standardised", "looks like each coordinate was standardised first (as public NECO implementations "
       "do); this exercise asks for the plain covariance of the training features", lambda c: _score(c, standardise=True)),
)


def exercises() -> list[Exercise]:
    """The exercises of the chapter on the paper's limitations."""
    return [
        Exercise(
            name="subspace_score",
            signature="subspace_score(H_train, H, d) -> array of shape (M,)",
            description="For each row h of H, ||P (h - mu)|| / ||h - mu||: mu is the mean of the training features "
                        "H_train and P the orthogonal projector onto the eigenvectors of the d largest eigenvalues of "
                        "their covariance Sigma_T = (1/N) sum_i (h_i - mu)(h_i - mu)^T (NECO's score without "
                        "standardisation). H_train: (N, p) float64; H: (M, p) float64; d: int, 1 <= d <= p.",
            arg_names=("H_train", "H", "d"),
            make_cases=_subspace_cases,
            shape=("M",),
            reference=_reference,
            variants=_VARIANTS,
            properties=(_in_unit_interval,),
            shape_hints=(
                _ShapeHint(("M", "d"), "subspace_returned_coordinates", "one row of d numbers per feature, perhaps "
                           "its coordinates in the principal basis; return one number per feature, the ratio of norms"),
                _ShapeHint(("M", "p"), "subspace_returned_projection", "one projected vector per feature; return "
                           "the norm of the projection divided by the norm of h - mu"),
                _ShapeHint(("N",), "subspace_scored_training_features", "one value per training feature; score "
                           "the rows of H, not of H_train"),
            ),
            other_codes=("subspace_outside_unit_interval",),
        ),
    ]



__all__ = ["exercises"]
