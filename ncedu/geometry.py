"""The simplex equiangular tight frame (ETF) and small helpers about angles.

A *simplex ETF* is the configuration the centred class means approach under
neural collapse (NC2; Papyan, Han & Donoho 2020, Definition 1): ``C`` unit vectors
whose pairwise cosines all equal ``-1/(C-1)``, the most negative common value
possible for ``C`` vectors whose sum is zero.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

from ._validation import ArrayLike, as_tensor, check_int, check_num_classes, check_seed

__all__ = ["simplex_etf", "etf_gram", "pairwise_cosines", "random_orthogonal"]

SeedLike = Optional[Union[int, np.random.Generator]]


def _helmert_basis(C: int) -> np.ndarray:
    """Orthonormal basis of the hyperplane ``{x in R^C : sum(x) = 0}`` as the columns of a (C, C-1) matrix.

    Column ``k`` (1-based) is ``(1, ..., 1, -k, 0, ..., 0) / sqrt(k (k + 1))``
    with ``k`` ones: the Helmert contrasts, exact in closed form.
    """
    Q = np.zeros((C, C - 1))
    for k in range(1, C):
        Q[:k, k - 1] = 1.0
        Q[k, k - 1] = -float(k)
        Q[:, k - 1] /= np.sqrt(k * (k + 1.0))
    return Q


def _rng(seed: SeedLike, name: str = "seed") -> np.random.Generator:
    """numpy's generator for ``seed``: None, a non-negative integer, or a Generator."""
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    return np.random.default_rng(check_seed(seed, name))


def random_orthogonal(p: int, seed: SeedLike = None) -> np.ndarray:
    """A random orthogonal (p, p) matrix, uniformly (Haar) distributed.

    The Q factor of the QR decomposition of a standard Gaussian matrix ``A = Q R``, with the sign of
    each column fixed by ``Q diag(sign(diag(R)))`` so that the distribution is the Haar measure on
    the orthogonal group (Mezzadri, "How to generate random matrices from the classical compact
    groups", Notices of the AMS 54(5), 2007). Rotations leave every NC metric unchanged, which the
    tests and chapters use.

    Parameters
    ----------
    p : int
        The dimension, at least 1.
    seed : int or numpy.random.Generator, optional
        Seed or generator of the Gaussian matrix (fresh entropy when omitted).

    Returns
    -------
    numpy.ndarray of shape (p, p), float64
        ``Q`` with ``Q^T Q = I``.

    Examples
    --------
    >>> Q = random_orthogonal(4, seed=0)
    >>> np.allclose(Q.T @ Q, np.eye(4)), Q.shape
    (True, (4, 4))
    """
    p = check_int(p, "p", minimum=1)
    rng = _rng(seed)
    A = rng.standard_normal((p, p))
    Q, R = np.linalg.qr(A)
    return Q * np.sign(np.diag(R))


def simplex_etf(num_classes: int, dim: int, seed: SeedLike = None) -> np.ndarray:
    r"""Rows of a simplex equiangular tight frame: ``C`` unit vectors in ``R^p`` with pairwise cosine ``-1/(C-1)``.

    .. math::

        \langle v_c, v_{c'} \rangle = \begin{cases} 1 & c = c' \\ -\tfrac{1}{C-1} & c \neq c' \end{cases},
        \qquad \sum_c v_c = 0 .

    The construction is exact: the rows of ``sqrt(C/(C-1)) Q`` where ``Q`` is the
    (C, C-1) Helmert basis of the sum-zero hyperplane, so ``Q Q^T = I - 11^T/C``.
    They span a (C-1)-dimensional subspace, placed in the first ``C-1`` coordinates
    of ``R^p``; with a ``seed`` the frame is rotated by a random orthogonal matrix.

    Parameters
    ----------
    num_classes : int
        ``C >= 2``, the number of vectors.
    dim : int
        ``p >= C - 1``, the ambient dimension (a simplex of ``C`` points needs ``C - 1``).
    seed : int or numpy.random.Generator, optional
        If given, apply a random rotation drawn from this seed.

    Returns
    -------
    numpy.ndarray of shape (C, p), float64

    References
    ----------
    Papyan, Han & Donoho (2020), PNAS 117(40), Definition 1 (simplex ETF).

    Examples
    --------
    >>> V = simplex_etf(4, 3)
    >>> np.allclose(V @ V.T, etf_gram(4))
    True
    """
    C = check_num_classes(num_classes)
    dim = check_int(dim, "dim", minimum=1)
    if seed is not None and not isinstance(seed, np.random.Generator):
        seed = check_seed(seed)
    if dim < C - 1:
        raise ValueError(
            f"dim must be at least num_classes - 1 = {C - 1} for a simplex ETF of {C} vectors, got dim={dim}"
        )
    V = np.zeros((C, int(dim)))
    V[:, : C - 1] = np.sqrt(C / (C - 1.0)) * _helmert_basis(C)
    if seed is not None:
        V = V @ random_orthogonal(int(dim), seed).T
    return V


def etf_gram(num_classes: int) -> np.ndarray:
    r"""The (C, C) Gram matrix of a unit simplex ETF: ones on the diagonal, ``-1/(C-1)`` elsewhere.

    .. math::

        G = \frac{C}{C-1} \Big( I_C - \frac{1}{C} \mathbf{1}\mathbf{1}^\top \Big),

    the matrix the cosines of the centred class means approach under NC2 (Papyan, Han & Donoho
    2020, Definition 1); :func:`simplex_etf` returns vectors with exactly this Gram matrix.

    Parameters
    ----------
    num_classes : int
        ``C >= 2``.

    Returns
    -------
    numpy.ndarray of shape (C, C), float64

    Examples
    --------
    >>> etf_gram(3)
    array([[ 1. , -0.5, -0.5],
           [-0.5,  1. , -0.5],
           [-0.5, -0.5,  1. ]])
    """
    C = check_num_classes(num_classes)
    return (C / (C - 1.0)) * np.eye(C) - np.full((C, C), 1.0 / (C - 1.0))


def pairwise_cosines(vectors: ArrayLike) -> np.ndarray:
    """The (C, C) matrix of cosines between the rows of a (C, p) array.

    ``cos(v_c, v_c') = <v_c, v_c'> / (||v_c|| ||v_c'||)``; for centred class means ``mu_c - mu_G``
    these are the angles NC2 measures (Papyan, Han & Donoho 2020, Figs. 3 and 4).

    Parameters
    ----------
    vectors : array or tensor of shape (C, p)
        One vector per row.

    Returns
    -------
    numpy.ndarray of shape (C, C), float64
        Ones on the diagonal.

    Raises
    ------
    ValueError
        If ``vectors`` is not 2-D or a row is zero (its angle is undefined).

    Examples
    --------
    >>> pairwise_cosines([[1.0, 0.0], [1.0, 1.0], [0.0, -2.0]]).round(4)
    array([[ 1.    ,  0.7071,  0.    ],
           [ 0.7071,  1.    , -0.7071],
           [ 0.    , -0.7071,  1.    ]])
    """
    V = as_tensor(vectors, "vectors").to("cpu").double().numpy()
    if V.ndim != 2:
        raise ValueError(f"vectors must be a 2-D array (one row per vector), got shape {V.shape}")
    zero = np.flatnonzero(np.linalg.norm(V, axis=1) == 0)
    if zero.size:
        raise ValueError(f"vectors has zero row(s) {zero.tolist()}; their angles are undefined")
    return _row_cosines(V)


def _row_cosines(V: np.ndarray) -> np.ndarray:
    """The (C, C) cosines between the rows of a float array, unchecked: NaN in the rows and columns of a zero row.

    The core of :func:`pairwise_cosines`, for callers that have validated their input and draw
    undefined angles as gaps (the views of ``ncedu.viz``).
    """
    norms = np.linalg.norm(V, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        U = V / norms[..., None]
    return U @ np.swapaxes(U, -1, -2)
