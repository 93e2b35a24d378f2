"""ncedu.ood against independent computations: eigenvectors of an explicitly formed covariance, pair counts."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch

from ncedu import simplex_etf
from ncedu.ood import auroc, max_softmax, principal_subspace_score


def _projector_score(H: np.ndarray, X: np.ndarray, d: int) -> np.ndarray:
    """The score from the definition, by another route: eigh of the formed covariance, then lstsq."""
    mu = H.mean(axis=0)
    cov = (H - mu).T @ (H - mu) / len(H)
    _, vecs = np.linalg.eigh(cov)                      # ascending
    basis = vecs[:, ::-1][:, :d]
    R = X - mu
    coef = np.linalg.lstsq(basis, R.T, rcond=None)[0]  # projection coefficients on the basis
    return np.linalg.norm(basis @ coef, axis=0) / np.linalg.norm(R, axis=1)


def _anisotropic(seed: int, N: int, p: int, offset: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return offset + rng.standard_normal((N, p)) * np.linspace(3.0, 0.3, p)


@pytest.mark.parametrize("seed,N,p,d", [(0, 40, 5, 2), (1, 30, 8, 1), (2, 100, 4, 3), (3, 12, 20, 5)])
def test_score_matches_the_projector_onto_the_top_eigenvectors(seed, N, p, d):
    H = _anisotropic(seed, N, p, offset=7.0)
    X = np.random.default_rng(seed + 100).standard_normal((9, p)) * 2 + 7.0
    np.testing.assert_allclose(principal_subspace_score(H, X, d), _projector_score(H, X, d), rtol=1e-10)


def test_every_training_feature_scores_one_under_exact_collapse_onto_a_simplex():
    C, p = 5, 12
    means = 3.0 * simplex_etf(C, p, seed=4) + 10.0          # NC1 and NC2 exactly, far from the origin
    y = np.repeat(np.arange(C), 6)
    H = means[y]
    np.testing.assert_allclose(principal_subspace_score(H, H, C - 1), 1.0, rtol=0, atol=1e-12)


def test_a_direction_orthogonal_to_the_means_scores_zero_and_one_at_45_degrees_scores_its_cosine():
    C, p = 4, 10
    V = simplex_etf(C, p, seed=1)
    H = 2.0 * V[np.repeat(np.arange(C), 3)]
    mu = H.mean(axis=0)
    Q, _ = np.linalg.qr(np.hstack([V.T, np.random.default_rng(0).standard_normal((p, 1))]))
    outside = Q[:, -1]                                       # orthogonal to the span of the means
    X = np.stack([mu + 5.0 * outside, mu + V[0] + np.linalg.norm(V[0]) * outside])
    np.testing.assert_allclose(principal_subspace_score(H, X, C - 1), [0.0, np.sqrt(0.5)], atol=1e-12)


def test_score_is_invariant_to_a_rotation_a_scale_and_a_translation_of_all_features():
    H, X = _anisotropic(5, 50, 6), _anisotropic(6, 8, 6)
    Q = np.linalg.qr(np.random.default_rng(7).standard_normal((6, 6)))[0]
    t = np.arange(6.0)
    moved = principal_subspace_score(3.0 * H @ Q + t, 3.0 * X @ Q + t, 3)
    np.testing.assert_allclose(moved, principal_subspace_score(H, X, 3), rtol=1e-10)


def test_scores_lie_between_zero_and_one_and_the_full_space_gives_one():
    H, X = _anisotropic(8, 30, 4), _anisotropic(9, 20, 4, offset=1.0)
    s = principal_subspace_score(H, X, 2)
    assert np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(principal_subspace_score(H, X, 4), 1.0, rtol=1e-12)


def test_torch_and_numpy_inputs_give_the_same_scores():
    H, X = _anisotropic(10, 25, 5), _anisotropic(11, 4, 5)
    np.testing.assert_allclose(principal_subspace_score(torch.tensor(H, dtype=torch.float32), torch.tensor(X), 2),
                               principal_subspace_score(H.astype(np.float32), X, 2), rtol=1e-6)


def test_an_undetermined_subspace_warns_and_gives_nan():
    H = 2.0 * simplex_etf(3, 6, seed=0)[np.repeat(np.arange(3), 4)]      # covariance of rank 2
    with pytest.warns(RuntimeWarning, match="exceeds the rank"):
        assert np.all(np.isnan(principal_subspace_score(H, H, 3)))
    square = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])  # isotropic: eigenvalues tied
    with pytest.warns(RuntimeWarning, match="tied"):
        assert np.all(np.isnan(principal_subspace_score(square, square, 1)))


def test_a_feature_at_the_training_mean_gets_nan_with_a_warning_and_the_others_their_score():
    H = _anisotropic(12, 20, 3)
    X = np.stack([H.mean(axis=0), H[0]])
    with pytest.warns(RuntimeWarning, match="equal the training mean"):
        s = principal_subspace_score(H, X, 1)
    assert np.isnan(s[0]) and np.isclose(s[1], _projector_score(H, H[:1], 1)[0])


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(dim=0), ValueError, "dim"),
    (dict(dim=4), ValueError, "dim"),
    (dict(dim=1.5), TypeError, "dim"),
    (dict(dim=True), TypeError, "dim"),
])
def test_bad_dim_is_refused_by_name(kwargs, error, match):
    H = _anisotropic(13, 10, 3)
    with pytest.raises(error, match=match):
        principal_subspace_score(H, H, **kwargs)


def test_bad_features_are_refused_by_name():
    H = _anisotropic(14, 10, 3)
    with pytest.raises(ValueError, match="features must have the same number of columns"):
        principal_subspace_score(H, H[:, :2], 1)
    with pytest.raises(ValueError, match="train_features"):
        principal_subspace_score(H[0], H, 1)
    bad = H.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="features"):
        principal_subspace_score(H, bad, 1)


def _pairs(s, t) -> float:
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in itertools.product(s, t))
    return wins / (len(s) * len(t))


@pytest.mark.parametrize("seed", range(5))
def test_auroc_equals_the_pair_count_with_ties_counted_half(seed):
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 6, size=rng.integers(1, 15)).astype(float)    # small integers: many ties
    t = rng.integers(0, 6, size=rng.integers(1, 15)).astype(float)
    assert auroc(s, t) == pytest.approx(_pairs(s, t), abs=1e-12)


def test_auroc_is_one_for_separated_scores_zero_reversed_and_half_when_identical():
    assert auroc([3.0, 4.0], [1.0, 2.0]) == 1.0
    assert auroc([1.0, 2.0], [3.0, 4.0]) == 0.0
    assert auroc([1.0, 1.0, 1.0], [1.0, 1.0]) == 0.5


def test_auroc_refuses_bad_scores_by_name():
    with pytest.raises(ValueError, match="in_scores"):
        auroc([], [1.0])
    with pytest.raises(ValueError, match="out_scores"):
        auroc([1.0], [np.nan])
    with pytest.raises(ValueError, match="in_scores"):
        auroc([[1.0, 2.0]], [1.0])
    with pytest.raises(TypeError, match="out_scores"):
        auroc([1.0], [True, False])


def test_max_softmax_matches_the_naive_formula_and_survives_large_logits():
    Z = np.random.default_rng(0).standard_normal((7, 4)) * 3
    naive = np.max(np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True), axis=1)
    np.testing.assert_allclose(max_softmax(Z), naive, rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = max_softmax(np.array([[1000.0, 999.0], [-1000.0, -1000.0]]))
    np.testing.assert_allclose(big, [1 / (1 + np.exp(-1.0)), 0.5], rtol=1e-12)
