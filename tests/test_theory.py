"""Propositions 1 and 2 (ncedu.theory), checked against independent computations.

* The Webb–Lowe classifier against ``numpy.linalg.lstsq`` on the one-hot MSE problem.
* The max-margin solver against directions known in closed form and against SciPy's SLSQP on the primal.
* Gradient descent on the logistic loss turning towards the max-margin direction.
* The multiclass SVM against SLSQP and the binary SVM; gradient descent on cross-entropy turning towards it.
* The best-separated configuration on the sphere against ``ncedu.etf_gram``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

import ncedu
from ncedu.geometry import random_orthogonal
from ncedu.theory import (
    angle_between,
    gradient_descent_cross_entropy,
    gradient_descent_logistic,
    margin,
    max_margin_direction,
    max_margin_multiclass,
    multiclass_margin,
    max_separation_on_sphere,
    webb_lowe_classifier,
)

torch.set_num_threads(1)


# ----------------------------------------------------------------------------------------------
# Proposition 1: Webb–Lowe
# ----------------------------------------------------------------------------------------------


def gaussian_data(rng, counts, p, sep=2.0, offset=3.0):
    C = len(counts)
    centres = sep * rng.standard_normal((C, p)) + offset
    H = np.concatenate([centres[c] + rng.standard_normal((n, p)) for c, n in enumerate(counts)])
    y = np.repeat(np.arange(C), counts)
    return H, y


def lstsq_reference(H, y, C):
    """Independent least-squares answers to min (1/2N) sum ||W h_i + b - e_{y_i}||^2.

    Returns (fitted values on the data, W_joint, b_joint, W_centred, b_centred):

    * ``*_joint``: the minimum-norm lstsq solution over (W, b) jointly on the design [H, 1]. Its
      fitted values are unique, but W_joint may have a component outside the row space of the
      centred features (it trades norm between W and b), so only its projection onto that row
      space must agree with the formula.
    * ``*_centred``: lstsq on the design [H - mu_G, 1]. The constant column is orthogonal to the
      centred columns, so the minimum-norm solution splits exactly into the minimum-norm W of the
      centred problem (which lies in that row space, like the formula's W) and an intercept
      c = mean of the targets; the model W h + b then has b = c - W mu_G. This must equal the formula
      exactly (up to rounding), with no projection.
    """
    N = H.shape[0]
    Y = np.eye(C)[y]
    ones = np.ones((N, 1))
    sol = np.linalg.lstsq(np.hstack([H, ones]), Y, rcond=None)[0]
    W_joint, b_joint = sol[:-1].T, sol[-1]
    mu = H.mean(0)
    sol_c = np.linalg.lstsq(np.hstack([H - mu, ones]), Y, rcond=None)[0]
    W_c = sol_c[:-1].T
    b_c = sol_c[-1] - W_c @ mu
    fitted = H @ W_joint.T + b_joint
    return fitted, W_joint, b_joint, W_c, b_c


def row_space_projector(H):
    """Orthogonal projector onto the row space of the centred features (NumPy's pinv, its own tolerance)."""
    Hc = H - H.mean(0)
    return np.linalg.pinv(Hc) @ Hc


def make_case(kind, rng):
    if kind == "full rank":
        return gaussian_data(rng, [30, 30, 30, 30], 6)
    if kind == "p > N":
        return gaussian_data(rng, [4, 4, 4], 25)
    if kind == "duplicated columns":
        H, y = gaussian_data(rng, [20, 20, 20], 5)
        return np.hstack([H, H[:, [0, 3]], 2.0 * H[:, [1]]]), y
    raise AssertionError(kind)


CASES = ["full rank", "p > N", "duplicated columns"]


@pytest.mark.parametrize("kind", CASES)
def test_webb_lowe_matches_least_squares_on_balanced_data(kind):
    rng = np.random.default_rng(CASES.index(kind))
    H, y = make_case(kind, rng)
    C = int(y.max()) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # balanced: no warning
        W, b = webb_lowe_classifier(H, y)
    assert W.shape == (C, H.shape[1]) and b.shape == (C,)
    assert W.dtype == np.float64 and b.dtype == np.float64
    fitted, W_joint, _, W_c, b_c = lstsq_reference(H, y, C)
    tol = 1e-8
    # 1. The fitted values (unique for any least-squares solution) agree.
    np.testing.assert_allclose(H @ W.T + b, fitted, rtol=0, atol=tol)
    # 2. W agrees with the joint lstsq W on the row space of the centred data ...
    P = row_space_projector(H)
    np.testing.assert_allclose(W, W_joint @ P, rtol=0, atol=tol)
    # ... and lies in that row space itself (the minimum-norm choice).
    np.testing.assert_allclose(W @ P, W, rtol=0, atol=tol)
    # 3. With the intercept handled exactly, the minimum-norm solution is the formula's.
    np.testing.assert_allclose(W, W_c, rtol=0, atol=tol)
    np.testing.assert_allclose(b, b_c, rtol=0, atol=tol)
    # The bias is (1/C) 1 - W mu_G, as Proposition 1 states.
    np.testing.assert_allclose(b, 1.0 / C - W @ H.mean(0), rtol=0, atol=1e-12)
    # On balanced data the two weightings coincide.
    W_f, b_f = webb_lowe_classifier(H, y, weighting="frequency")
    np.testing.assert_allclose(W_f, W, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b_f, b, rtol=0, atol=1e-12)


def test_webb_lowe_is_the_papers_formula_literally():
    """W = (1/C) M Sigma_T^+ with Sigma_T formed as a (p, p) matrix and NumPy's pseudo-inverse."""
    rng = np.random.default_rng(7)
    H, y = gaussian_data(rng, [25, 25, 25], 4)
    C = 3
    mu = H.mean(0)
    M = np.stack([H[y == c].mean(0) for c in range(C)]) - mu
    Sigma_T = (H - mu).T @ (H - mu) / H.shape[0]
    W_ref = M @ np.linalg.pinv(Sigma_T, hermitian=True) / C
    W, b = webb_lowe_classifier(torch.from_numpy(H), torch.from_numpy(y))  # tensors work too
    np.testing.assert_allclose(W, W_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(b, np.full(C, 1 / C) - W_ref @ mu, rtol=0, atol=1e-10)
    # The paper's convention: M_paper = [mu_c - mu_G] as columns (p, C); W = (1/C) M_paper^T Sigma_T^+ is (C, p).
    M_paper = M.T
    np.testing.assert_allclose(W, (1 / C) * M_paper.T @ np.linalg.pinv(Sigma_T, hermitian=True), atol=1e-10)


@pytest.mark.parametrize("kind", ["full rank", "p > N"])
def test_frequency_weighting_matches_least_squares_on_imbalanced_data(kind):
    rng = np.random.default_rng(11)
    counts, p = ([10, 40, 25], 5) if kind == "full rank" else ([2, 6, 4], 20)
    H, y = gaussian_data(rng, counts, p)
    C = len(counts)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        W, b = webb_lowe_classifier(H, y, weighting="frequency")
    fitted, W_joint, _, W_c, b_c = lstsq_reference(H, y, C)
    np.testing.assert_allclose(H @ W.T + b, fitted, rtol=0, atol=1e-8)
    np.testing.assert_allclose(W, W_joint @ row_space_projector(H), rtol=0, atol=1e-8)
    np.testing.assert_allclose(W, W_c, rtol=0, atol=1e-8)
    np.testing.assert_allclose(b, b_c, rtol=0, atol=1e-8)
    pi = np.bincount(y) / len(y)
    np.testing.assert_allclose(b, pi - W @ H.mean(0), atol=1e-12)


def test_balanced_formula_on_imbalanced_data_warns_and_is_not_the_optimum():
    rng = np.random.default_rng(3)
    H, y = gaussian_data(rng, [10, 40, 25], 5)
    with pytest.warns(UserWarning, match="weighting='frequency'"):
        W, b = webb_lowe_classifier(H, y)
    fitted, *_ = lstsq_reference(H, y, 3)
    assert np.abs(H @ W.T + b - fitted).max() > 1e-3
    Y = np.eye(3)[y]

    def mse(W, b):
        return 0.5 * np.mean(np.sum((H @ W.T + b - Y) ** 2, axis=1))

    W_f, b_f = webb_lowe_classifier(H, y, weighting="frequency")
    assert mse(W_f, b_f) < mse(W, b) - 1e-6
    # The balanced result is still the paper's formula, computed as stated.
    C = 3
    mu = H.mean(0)
    M = np.stack([H[y == c].mean(0) for c in range(C)]) - mu
    Sigma_T = (H - mu).T @ (H - mu) / len(y)
    np.testing.assert_allclose(W, M @ np.linalg.pinv(Sigma_T, hermitian=True) / C, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(
    C=st.integers(2, 6),
    extra_dim=st.integers(0, 6),
    n=st.integers(1, 5),
    scale=st.floats(0.1, 100.0),
    seed=st.integers(0, 2**16),
)
@example(C=5, extra_dim=2, n=1, scale=0.125, seed=0)  # means 20x further from the origin than their spread
def test_collapsed_etf_features_make_webb_lowe_self_dual(C, extra_dim, n, scale, seed):
    """NC1 = 0 and exact NC2 (simplex ETF means, rotated, scaled, shifted) give W proportional to M (NC3 = 0)."""
    rng = np.random.default_rng(seed)
    p = C - 1 + extra_dim
    means = scale * simplex_etf_rotated(C, p, rng) + rng.standard_normal(p)
    H = np.repeat(means, n, axis=0)
    y = np.repeat(np.arange(C), n)
    W, b = webb_lowe_classifier(H, y)
    m = ncedu.measure(H, y, W=W, b=b)
    assert m.nc1 < 1e-10
    assert m.nc3 < 1e-10
    assert m.nc4 == 0.0
    M = means - H.mean(0)
    k = np.sum(W * M) / np.sum(M * M)
    assert k > 0
    np.testing.assert_allclose(W, k * M, rtol=0, atol=1e-9 * np.abs(W).max())


def simplex_etf_rotated(C, p, rng):
    return ncedu.simplex_etf(C, p) @ random_orthogonal(p, rng).T


def test_webb_lowe_errors():
    rng = np.random.default_rng(0)
    H, y = gaussian_data(rng, [5, 5], 3)
    with pytest.raises(ValueError, match="weighting"):
        webb_lowe_classifier(H, y, weighting="uniform")
    with pytest.raises(ValueError, match="at least 2 classes"):
        webb_lowe_classifier(H, np.zeros(10, dtype=int))
    with pytest.raises(ValueError, match="rows"):
        webb_lowe_classifier(H, y[:-1])
    with pytest.raises(ValueError, match="2-D"):
        webb_lowe_classifier(H[:, 0], y)
    with pytest.raises(ValueError, match="no samples"):
        webb_lowe_classifier(H, 2 * y)
    with pytest.raises(ValueError, match="NaN"):
        webb_lowe_classifier(np.where(np.eye(10, 3) > 0, np.nan, H), y)


# ----------------------------------------------------------------------------------------------
# Proposition 2: max margin and gradient descent
# ----------------------------------------------------------------------------------------------


def symmetric_support_data(phi, t, scale, extra, zero_one_labels=True):
    """Separable 2-D data whose max-margin direction (through the origin) is u = (cos phi, sin phi).

    With v orthogonal to u, the support points are x+ = s (u + t v) (label +1) and x- = s (-u + t v)
    (label -1), so y_i x_i = s (u +- t v) and u = (y_1 x_1 + y_2 x_2) / (2 s) lies in the cone of the
    constraints with equal multipliers: the KKT conditions of min ||w|| s.t. y_i w.x_i >= 1 hold for
    w = u / s, and the margin is s. ``extra`` points have y_i u.x_i > s, so they do not change the answer.
    """
    u = np.array([math.cos(phi), math.sin(phi)])
    v = np.array([-u[1], u[0]])
    X = [scale * (u + t * v), scale * (-u + t * v)]
    y = [1, -1]
    for a, c, sign in extra:  # y u.x = a * scale with a > 1
        X.append(sign * scale * (a * u + c * v))
        y.append(sign)
    X, y = np.array(X), np.array(y)
    if zero_one_labels:
        y = (y > 0).astype(int)
    return X, y, u, scale


EXTRA = [(1.5, 3.0, 1), (2.0, -4.0, -1), (4.0, 0.5, 1), (1.1, -7.0, 1), (3.0, 2.0, -1)]


@settings(max_examples=30, deadline=None)
@given(
    phi=st.floats(-math.pi, math.pi),
    t=st.floats(-3.0, 3.0),
    scale=st.floats(0.05, 50.0),
    zero_one=st.booleans(),
)
def test_max_margin_recovers_the_closed_form_direction(phi, t, scale, zero_one):
    X, y, u, gamma = symmetric_support_data(phi, t, scale, EXTRA, zero_one)
    direction, gam = max_margin_direction(X, y)
    assert np.linalg.norm(direction) == pytest.approx(1.0, abs=1e-12)
    assert angle_between(direction, u) < 1e-6
    np.testing.assert_allclose(direction, u, atol=1e-6)
    assert gam == pytest.approx(gamma, rel=1e-6)
    assert margin(X, y, direction) == pytest.approx(gam, rel=1e-9)


def test_max_margin_matches_slsqp_on_the_primal():
    """An independent solver: SLSQP on min ||w||^2/2 s.t. y_i w.x_i >= 1, in 4-D."""
    rng = np.random.default_rng(5)
    w_true = rng.standard_normal(4)
    X = rng.standard_normal((40, 4))
    X = X[np.abs(X @ w_true) > 0.3]
    y = np.where(X @ w_true > 0, 1, -1)
    Z = y[:, None] * X
    res = minimize(
        lambda w: 0.5 * w @ w,
        w_true / np.min(Z @ w_true),  # a feasible start
        jac=lambda w: w,
        constraints=[{"type": "ineq", "fun": lambda w: Z @ w - 1.0, "jac": lambda w: Z}],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 500},
    )
    assert res.success
    direction, gam = max_margin_direction(X, y)
    assert angle_between(direction, res.x) < 1e-5
    assert gam == pytest.approx(1.0 / np.linalg.norm(res.x), rel=1e-5)
    # No other direction does better: random unit directions have smaller margins.
    for w in rng.standard_normal((200, 4)):
        assert margin(X, y, w) <= gam + 1e-12


def test_gradient_descent_turns_towards_the_max_margin_direction():
    X, y, u, _ = symmetric_support_data(0.3, 0.5, 1.0, EXTRA)
    path = gradient_descent_logistic(X, y, steps=10_000, lr=1.0, record_at=[10, 100, 1000, 10_000])
    np.testing.assert_array_equal(path.steps, [10, 100, 1000, 10_000])
    assert path.directions.shape == (4, 2)
    np.testing.assert_allclose(np.linalg.norm(path.directions, axis=1), 1.0)
    angles = [angle_between(d, u) for d in path.directions]
    assert angles[3] < angles[1]  # the angle at 10^4 steps is smaller than at 10^2 ...
    assert all(a > b for a, b in zip(angles, angles[1:]))  # ... and shrinks throughout, slowly
    assert angles[3] > 1e-4  # (only like 1/log t: far from converged)
    assert np.all(np.diff(path.norms) > 0)  # ||w_t|| keeps growing (like log t) ...
    assert path.norms[3] < 10 * math.log(10_000)  # ... but far slower than linearly
    assert np.all(np.diff(path.losses) < 0) and path.losses[-1] < 1e-3
    np.testing.assert_allclose(path.weights / np.linalg.norm(path.weights), path.directions[-1])
    assert margin(X, y, path.weights) > 0
    # Deterministic, and labels in {-1, +1} give the same path as {0, 1}.
    again = gradient_descent_logistic(X, 2 * y - 1, steps=10_000, lr=1.0, record_at=[10, 100, 1000, 10_000])
    np.testing.assert_array_equal(again.directions, path.directions)
    np.testing.assert_array_equal(again.losses, path.losses)


def test_gradient_descent_recording_and_default_step():
    X, y, _, _ = symmetric_support_data(1.0, -1.0, 2.0, EXTRA)
    path = gradient_descent_logistic(X, y, steps=250, record_every=100)
    np.testing.assert_array_equal(path.steps, [100, 200, 250])
    assert path.lr == pytest.approx(4 * len(y) / np.linalg.norm(X, 2) ** 2)
    assert len(path.norms) == len(path.losses) == 3
    # The loss recorded is the logistic loss of the recorded iterate.
    s = 2 * y - 1
    w = path.weights
    assert path.losses[-1] == pytest.approx(np.mean(np.log1p(np.exp(-s * (X @ w)))), rel=1e-12)


def test_non_separable_data_raise():
    X = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="not linearly separable"):
        max_margin_direction(X, [1, 0, 1])  # x and 2x with opposite labels
    # Separable with a bias, but not through the origin (1-D: 1 -> class 0, 2 -> class 1).
    with pytest.raises(ValueError, match="not linearly separable"):
        max_margin_direction(np.array([[1.0], [2.0]]), [0, 1])
    # Overlapping Gaussian clouds.
    rng = np.random.default_rng(0)
    Xg = rng.standard_normal((60, 3))
    with pytest.raises(ValueError, match="not linearly separable"):
        max_margin_direction(Xg, rng.integers(0, 2, 60))
    # A zero sample can never be on the right side with a positive margin.
    with pytest.raises(ValueError, match="not linearly separable"):
        max_margin_direction(np.array([[1.0, 1.0], [0.0, 0.0], [-1.0, -1.0]]), [1, 1, 0])


def test_binary_tools_reject_bad_input():
    X = np.array([[1.0, 0.0], [-1.0, 0.5], [2.0, 1.0]])
    for f in (max_margin_direction, lambda X, y: gradient_descent_logistic(X, y, steps=5)):
        with pytest.raises(ValueError, match="binary"):
            f(X, [0, 1, 2])
        with pytest.raises(ValueError, match="binary"):
            f(X, [-1, 0, 1])
        with pytest.raises(ValueError, match="at least 2 classes"):
            f(X, [1, 1, 1])
        with pytest.raises(ValueError, match="rows"):
            f(X, [0, 1])
        with pytest.raises(ValueError, match="2-D"):
            f(X[:, 0], [0, 1, 0])
    with pytest.raises(ValueError, match="steps"):
        gradient_descent_logistic(X, [0, 1, 0], steps=0)
    with pytest.raises(ValueError, match="lr"):
        gradient_descent_logistic(X, [0, 1, 0], steps=5, lr=-1.0)
    with pytest.raises(ValueError, match="record_at"):
        gradient_descent_logistic(X, [0, 1, 0], steps=5, record_at=[6])
    with pytest.raises(ValueError, match="zero vector"):
        margin(X, [0, 1, 0], [0.0, 0.0])
    with pytest.raises(ValueError, match="length"):
        margin(X, [0, 1, 0], [1.0, 0.0, 0.0])


def test_angle_between():
    assert angle_between([1.0, 0.0], [0.0, 3.0]) == pytest.approx(math.pi / 2)
    assert angle_between([1.0, 1.0], [-2.0, -2.0]) == pytest.approx(math.pi)
    assert angle_between([2.0, 0.0], [5.0, 0.0]) == 0.0
    eps = 1e-9  # small angles stay accurate (arccos of the cosine would return 0 here)
    assert angle_between([1.0, 0.0], [math.cos(eps), math.sin(eps)]) == pytest.approx(eps, rel=1e-6)
    with pytest.raises(ValueError, match="non-zero"):
        angle_between([0.0, 0.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="length"):
        angle_between([1.0, 0.0], [1.0, 0.0, 0.0])


# ----------------------------------------------------------------------------------------------
# The simplex ETF as the best-separated configuration
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("C", [3, 4, 5])
@pytest.mark.parametrize("extra_dim", [0, 3])
def test_max_separation_on_sphere_is_a_simplex_etf(C, extra_dim):
    dim = C - 1 + extra_dim
    X = max_separation_on_sphere(C, dim)
    assert X.shape == (C, dim)
    np.testing.assert_allclose(X @ X.T, ncedu.etf_gram(C), rtol=0, atol=1e-3)
    # The smallest pairwise distance is the ETF's sqrt(2C/(C-1)).
    d = np.linalg.norm(X[:, None] - X[None], axis=2)[~np.eye(C, dtype=bool)]
    assert d.min() == pytest.approx(math.sqrt(2 * C / (C - 1)), abs=1e-3)
    # Deterministic for a seed; another seed gives another (rotated) ETF.
    np.testing.assert_array_equal(max_separation_on_sphere(C, dim), X)
    Y = max_separation_on_sphere(C, dim, seed=1)
    np.testing.assert_allclose(Y @ Y.T, ncedu.etf_gram(C), rtol=0, atol=1e-3)


def test_max_separation_below_the_etf_dimension():
    """Five points on the circle: the regular pentagon, not an ETF (which needs dim >= 4)."""
    X = max_separation_on_sphere(5, 2, sharpness=20.0)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0)
    d = np.linalg.norm(X[:, None] - X[None], axis=2)[~np.eye(5, dtype=bool)]
    assert d.min() == pytest.approx(2 * math.sin(math.pi / 5), abs=1e-3)


def test_max_separation_errors():
    with pytest.raises(ValueError, match="at least 2"):
        max_separation_on_sphere(1, 3)
    with pytest.raises(ValueError, match="dim"):
        max_separation_on_sphere(3, 0)
    with pytest.raises(ValueError, match="sharpness"):
        max_separation_on_sphere(3, 2, sharpness=0.0)


# ----------------------------------------------------------------------------------------------
# Proposition 2 for C classes
# ----------------------------------------------------------------------------------------------


def separable_classes(rng, C, d, n, gap=0.5):
    """``n`` points per class, each class around a unit vector, kept only where the truth has margin ``gap``."""
    V = rng.standard_normal((C, d))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    X = np.repeat(V, n, axis=0) * 2.0 + 0.6 * rng.standard_normal((C * n, d))
    y = np.repeat(np.arange(C), n)
    Z = X @ V.T
    own = Z[np.arange(len(y)), y]
    Z[np.arange(len(y)), y] = -np.inf
    keep = own - Z.max(axis=1) > gap
    return X[keep], y[keep]


def test_multiclass_max_margin_matches_slsqp_on_the_primal():
    rng = np.random.default_rng(11)
    X, y = separable_classes(rng, C=3, d=3, n=12)
    C, d = 3, 3
    rows = [(i, c) for i in range(len(y)) for c in range(C) if c != y[i]]
    G = np.zeros((len(rows), C * d))
    for k, (i, c) in enumerate(rows):
        G[k, y[i] * d:(y[i] + 1) * d] = X[i]
        G[k, c * d:(c + 1) * d] -= X[i]
    res = minimize(lambda w: 0.5 * w @ w, np.zeros(C * d),
                   jac=lambda w: w, constraints=[{"type": "ineq", "fun": lambda w: G @ w - 1.0, "jac": lambda w: G}],
                   method="SLSQP", options={"ftol": 1e-14, "maxiter": 1000})
    assert res.success
    U, gam = max_margin_multiclass(X, y)
    assert np.linalg.norm(U) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(U.ravel(), res.x / np.linalg.norm(res.x), atol=1e-5)
    assert gam == pytest.approx(1.0 / np.linalg.norm(res.x), rel=1e-5)
    assert multiclass_margin(X, y, U) == pytest.approx(gam, rel=1e-9)
    np.testing.assert_allclose(U.sum(axis=0), 0.0, atol=1e-10)  # rows sum to zero at the optimum
    for W in rng.standard_normal((200, C, d)):  # no other direction does better
        assert multiclass_margin(X, y, W) <= gam + 1e-12


def test_multiclass_max_margin_with_two_classes_is_the_binary_svm():
    rng = np.random.default_rng(3)
    X, y = separable_classes(rng, C=2, d=4, n=20)
    U, gam = max_margin_multiclass(X, y)
    u, gamma_binary = max_margin_direction(X, y)
    assert angle_between(U[1] - U[0], u) < 1e-6
    np.testing.assert_allclose(U[0], -U[1], atol=1e-9)
    # W = [-v/2; v/2] has w_1 - w_0 = v and ||W||_F = ||v|| / sqrt(2): the multiclass margin is sqrt(2) times
    # the binary one
    assert gam == pytest.approx(gamma_binary * math.sqrt(2), rel=1e-6)
    assert multiclass_margin(X, y, np.stack([-u, u])) == pytest.approx(gamma_binary * math.sqrt(2), rel=1e-9)


def test_gradient_descent_on_cross_entropy_turns_towards_the_multiclass_svm():
    rng = np.random.default_rng(7)
    X, y = separable_classes(rng, C=4, d=5, n=15)
    U, gam = max_margin_multiclass(X, y)
    path = gradient_descent_cross_entropy(X, y, steps=20_000, record_at=[10, 100, 1000, 20_000])
    angles = [angle_between(D.ravel(), U.ravel()) for D in path.directions]
    assert all(a > b for a, b in zip(angles, angles[1:])) and angles[-1] < 0.6 * angles[0]  # slowly: 1/log t
    assert np.all(np.diff(path.norms) > 0) and np.all(np.diff(path.losses) < 0)
    # W_t = W_hat log t + rho_t with rho_t growing ever more slowly (Soudry et al.), W_hat = U / gamma the SVM
    # solution with margin 1: from t = 1000 to 20000 the norm grows by nearly log(20) / gamma
    growth = (path.norms[-1] - path.norms[-2]) / (np.log(20) / gam)
    assert 0.75 < growth < 1.02, growth
    assert multiclass_margin(X, y, path.weights) > 0
    # the gradient is (P - Y)^T X / N: compare one step with torch's autograd
    W1 = gradient_descent_cross_entropy(X, y, steps=1, lr=0.3).weights
    Wt = torch.zeros(4, 5, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.cross_entropy(torch.from_numpy(X) @ Wt.T, torch.from_numpy(y)).backward()
    np.testing.assert_allclose(W1, -0.3 * Wt.grad.numpy(), atol=1e-12)


def test_multiclass_tools_refuse_bad_input_clearly():
    X = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="no linear classifier without bias classifies every sample"):
        max_margin_multiclass(X, [0, 1, 2])  # x and 2x in different classes
    with pytest.raises(ValueError, match="W must have shape"):
        multiclass_margin(X, [0, 1, 0], np.ones((3, 2)))
    with pytest.raises(ValueError, match="zero matrix"):
        multiclass_margin(X, [0, 1, 0], np.zeros((2, 2)))
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        gradient_descent_cross_entropy(X, [0, 1, 0], steps=0)
    with pytest.raises(ValueError, match="y"):
        gradient_descent_cross_entropy(X, [0, 1], steps=3)


def test_ridge_webb_lowe_is_the_weight_decay_minimiser():
    """Against a dense solve of (Sigma_T + lambda I) W^T = M^T / C, and the objective's gradient at the answer."""
    rng = np.random.default_rng(4)
    for counts, p in [((30, 30, 30), 5), ((8, 8, 8, 8), 40), ((10, 25, 5), 6)]:  # full rank, p > N, imbalanced
        H, y = gaussian_data(rng, counts, p)
        C, N = len(counts), len(y)
        lam = 0.3
        weighting = "balanced" if len(set(counts)) == 1 else "frequency"
        W, b = webb_lowe_classifier(H, y, ridge=lam, weighting=weighting)
        T = H - H.mean(0)
        M = np.stack([H[y == c].mean(0) for c in range(C)]) - H.mean(0)
        w = np.bincount(y) / N if weighting == "frequency" else np.full(C, 1 / C)
        W_dense = np.linalg.solve(T.T @ T / N + lam * np.eye(p), (w[:, None] * M).T).T
        np.testing.assert_allclose(W, W_dense, rtol=0, atol=1e-10 * np.abs(W_dense).max())
        # the gradient of (1/2N) sum ||W h_i + b - e_{y_i}||^2 + (lam/2)||W||^2 vanishes at (W, b)
        R = H @ W.T + b - np.eye(C)[y]
        np.testing.assert_allclose(R.T @ H / N + lam * W, 0.0, atol=1e-10)
        np.testing.assert_allclose(R.mean(0), 0.0, atol=1e-12)
    # lambda -> 0 recovers the pseudo-inverse classifier; a negative lambda is refused
    H, y = gaussian_data(rng, (20, 20, 20), 4)
    np.testing.assert_allclose(webb_lowe_classifier(H, y, ridge=1e-12)[0], webb_lowe_classifier(H, y)[0], atol=1e-9)
    with pytest.raises(ValueError, match="ridge must be a non-negative"):
        webb_lowe_classifier(H, y, ridge=-1.0)
