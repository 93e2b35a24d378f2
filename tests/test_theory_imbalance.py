"""ncedu.theory.imbalance against independent computations: the SELI Grams from the explicit C x N
SEL matrix and from a numerical solution of the unconstrained-features SVM (scipy's SLSQP), the balanced
case in closed form, and the fixed-ETF feature scale against a grid search and against gradient descent
on the whole fixed-classifier UFM with imbalanced classes (plain numpy written here)."""

from __future__ import annotations

import numpy as np
import pytest

import ncedu
from ncedu.theory import SELIGeometry, fixed_etf_feature_scale, seli_geometry

COUNTS = [(3, 3, 3), (4, 4, 1, 1, 1), (10, 10, 10, 1, 1), (7, 2), (5, 1, 9, 3), (200,) * 5 + (2,) * 5]


def sel_matrix(counts):
    """The C x N simplex-encoded label matrix, one column e_y - 1/C per sample (samples in any order)."""
    C = len(counts)
    y = np.random.default_rng(len(counts)).permutation(np.repeat(np.arange(C), counts))
    return np.eye(C)[:, y] - 1.0 / C, y


@pytest.mark.parametrize("counts", COUNTS, ids=str)
def test_the_grams_are_those_of_the_svd_of_the_explicit_sel_matrix(counts):
    Z, y = sel_matrix(counts)
    V, lam, Ut = np.linalg.svd(Z, full_matrices=False)
    W_gram = (V * lam) @ V.T
    H_gram = (Ut.T * lam) @ Ut                                  # N x N
    first = [int(np.flatnonzero(y == c)[0]) for c in range(len(counts))]
    g = seli_geometry(list(counts))
    assert isinstance(g, SELIGeometry) and g.class_counts.tolist() == list(counts)
    assert np.allclose(g.classifier_gram, W_gram, atol=1e-10)
    assert np.allclose(g.feature_gram, H_gram[np.ix_(first, first)], atol=1e-10)
    # features of one class coincide in the SELI geometry (NC1)
    for c in range(len(counts)):
        idx = np.flatnonzero(y == c)
        assert np.allclose(H_gram[np.ix_(idx, idx)], H_gram[idx[0], idx[0]], atol=1e-10)
    assert np.allclose(g.logits, np.eye(len(counts)) - 1 / len(counts))


def test_balanced_classes_give_multiples_of_the_etf_gram():
    for C, n in [(2, 5), (4, 3), (10, 7)]:
        g = seli_geometry([n] * C)
        G = ncedu.etf_gram(C)                                   # cosines -1/(C-1), ones on the diagonal
        assert np.allclose(g.classifier_gram, np.sqrt(n) * (C - 1) / C * G)
        assert np.allclose(g.feature_gram, (C - 1) / C * G / np.sqrt(n))
        assert np.allclose(g.cosines(), G) and np.allclose(g.cosines("features"), G)


@pytest.mark.parametrize("counts", [(4, 4, 1, 1, 1), (10, 10, 10, 1, 1), (3, 1, 2)], ids=str)
def test_the_grams_solve_the_unconstrained_features_svm(counts):
    minimize = pytest.importorskip("scipy.optimize").minimize
    n = np.array(counts, float)
    C = p = len(counts)

    def unpack(x):
        return x[:C * p].reshape(C, p), x[C * p:].reshape(C, p)

    def objective(x):            # 1/2 ||W||^2 + 1/2 sum_i ||h_i||^2 with the features of a class equal
        W, H = unpack(x)
        return 0.5 * np.sum(W ** 2) + 0.5 * np.sum(n[:, None] * H ** 2)

    def gradient(x):
        W, H = unpack(x)
        return np.concatenate([W.ravel(), (n[:, None] * H).ravel()])

    margins = [{"type": "ineq", "fun": lambda x, c=c, j=j: (lambda W, H: (W[c] - W[j]) @ H[c] - 1.0)(*unpack(x))}
               for c in range(C) for j in range(C) if j != c]
    rng = np.random.default_rng(0)
    best = min((minimize(objective, rng.standard_normal(2 * C * p), jac=gradient, constraints=margins,
                         method="SLSQP", options={"maxiter": 3000, "ftol": 1e-14}) for _ in range(4)),
               key=lambda r: r.fun)
    W, H = unpack(best.x)
    g = seli_geometry(list(counts))
    assert np.allclose(W @ W.T, g.classifier_gram, atol=1e-5)
    assert np.allclose(H @ H.T, g.feature_gram, atol=1e-5)
    assert np.allclose(W @ H.T, g.logits, atol=1e-5)
    # the optimal value is the nuclear norm of the SEL matrix (the min of 1/2(||W||^2 + ||H||^2) over W H^T = Z)
    assert np.isclose(best.fun, np.linalg.svd(sel_matrix(counts)[0], compute_uv=False).sum(), rtol=1e-6)


def test_minority_classifiers_get_closer_with_the_imbalance_ratio_but_never_coincide():
    cosines = [seli_geometry([R] * 5 + [1] * 5).cosines()[5, 6] for R in (1, 10, 100, 10_000)]
    assert np.isclose(cosines[0], -1 / 9)
    assert all(a < b < 1 for a, b in zip(cosines, cosines[1:]))


@pytest.mark.parametrize("bad, error", [(5, TypeError), ("ab", TypeError), ([3], ValueError), ([3, 0], ValueError),
                                        ([[1, 2], [3, 4]], ValueError), ([2, 1.5], TypeError), ([2, -1], ValueError)])
def test_bad_counts_are_refused_naming_per_class(bad, error):
    with pytest.raises(error, match="per_class"):
        seli_geometry(bad)


def test_cosines_refuses_an_unknown_matrix():
    with pytest.raises(ValueError, match="which"):
        seli_geometry([2, 2]).cosines("means")


@pytest.mark.parametrize("C, lam, r", [(2, 0.1, 1.0), (10, 0.05, 1.0), (10, 5e-3, 2.0), (4, 1.0, 0.5)])
def test_the_feature_scale_minimises_the_one_dimensional_objective(C, lam, r):
    s = fixed_etf_feature_scale(C, lam, r)
    a = r * C / (C - 1)
    grid = np.linspace(0, 2 * a / lam, 400_001)
    f = np.log1p((C - 1) * np.exp(-a * grid)) + lam / 2 * grid ** 2
    assert abs(s - grid[np.argmin(f)]) <= 2 * (grid[1] - grid[0])


def test_gradient_descent_with_a_fixed_etf_classifier_reaches_the_scale_whatever_the_counts():
    C, p, lam = 6, 8, 0.1
    U = ncedu.simplex_etf(C, p, seed=3)                         # unit rows, fixed
    counts = [30, 30, 30, 2, 1, 1]
    y = np.repeat(np.arange(C), counts)
    N = len(y)
    H = np.random.default_rng(0).standard_normal((N, p))
    for _ in range(4000):                                       # gradient of (1/N) sum_i [CE + lam/2 ||h_i||^2], times N
        Z = H @ U.T
        P = np.exp(Z - Z.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        P[np.arange(N), y] -= 1.0
        H -= 0.5 * (P @ U + lam * H)
    s = fixed_etf_feature_scale(C, lam)
    assert np.allclose(H, s * U[y], atol=1e-8)


@pytest.mark.parametrize("args, error, name", [((1, 0.1), ValueError, "num_classes"), ((3, 0.0), ValueError, "lambda_H"),
                                               ((3, -1.0), ValueError, "lambda_H"), ((3, 0.1, 0.0), ValueError, "row_norm"),
                                               ((3.5, 0.1), TypeError, "num_classes"), ((3, "a"), TypeError, "lambda_H")])
def test_the_feature_scale_refuses_bad_arguments_by_name(args, error, name):
    with pytest.raises(error, match=name):
        fixed_etf_feature_scale(*args)
