"""ncedu.theory.central_path and ncedu.theory.snr_flow against independent computations.

The classifier against a brute-force ridge solve on features with a constant 1 appended (and against
chapter 7's Webb–Lowe classifier where they must agree), the decomposition against the loss evaluated
directly, the signal-to-noise closed forms against the decomposition, the bound on NC1 against
ncedu.measure, and the flow against a numerically integrated ODE.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ncedu
from ncedu import History, simplex_etf
from ncedu.theory import (
    central_path_along_training,
    central_path_classifier,
    central_path_clock,
    central_path_flow,
    mse_decomposition,
    snr_singular_values,
    webb_lowe_classifier,
)


def _data(seed=0, C=4, n=30, p=6, offset=0.0, counts=None):
    rng = np.random.default_rng(seed)
    counts = counts or (n,) * C
    y = np.repeat(np.arange(len(counts)), counts)
    rng.shuffle(y)
    mix = rng.standard_normal((p, p))
    H = rng.standard_normal((len(y), p)) @ mix + 3 * rng.standard_normal((len(counts), p))[y] + offset
    return H, y


def _brute(H, y, lw, lb):
    """argmin (1/2N) sum ||[W b] (h, 1) - e||^2 + (1/2)[W b] Lam [W b]^T by lstsq on stacked rows."""
    N, p = H.shape
    C = int(y.max()) + 1
    X = np.hstack([H, np.ones((N, 1))])
    lam = np.r_[np.full(p, lw), lb]
    A = np.vstack([X / np.sqrt(N), np.diag(np.sqrt(lam))])
    T = np.vstack([np.eye(C)[y] / np.sqrt(N), np.zeros((p + 1, C))])
    V = np.linalg.lstsq(A, T, rcond=None)[0].T
    return V[:, :p], V[:, p]


def _loss(H, y, W, b, lw, lb):
    R = H @ W.T + b - np.eye(W.shape[0])[y]
    return 0.5 * np.mean(np.sum(R ** 2, axis=1)) + 0.5 * lw * np.sum(W ** 2) + 0.5 * lb * np.sum(b ** 2)


@pytest.mark.parametrize("lw, lb", [(0.1, 0.1), (0.05, 0.0), (0.02, 0.7), (1e-4, 1e-4)])
@pytest.mark.parametrize("counts", [None, (10, 25, 40, 15)], ids=["balanced", "imbalanced"])
def test_the_classifier_is_the_brute_force_ridge_solution(lw, lb, counts):
    H, y = _data(counts=counts, offset=8.0)
    W, b = central_path_classifier(H, y, lambda_W=lw, lambda_b=lb)
    W0, b0 = _brute(H, y, lw, lb)
    assert np.allclose(W, W0, atol=1e-9) and np.allclose(b, b0, atol=1e-8)


def test_a_free_bias_gives_chapter_7s_ridge_form_and_no_decay_gives_webb_lowe():
    H, y = _data(offset=50.0)
    W, b = central_path_classifier(H, y, lambda_W=0.3, lambda_b=0.0)
    W7, b7 = webb_lowe_classifier(H, y, ridge=0.3)
    assert np.allclose(W, W7, rtol=1e-9, atol=1e-12) and np.allclose(b, b7, rtol=1e-9)
    W, b = central_path_classifier(H, y)
    W1, b1 = webb_lowe_classifier(H, y)
    assert np.allclose(W, W1, rtol=1e-7, atol=1e-12) and np.allclose(b, b1, rtol=1e-7)
    H2, y2 = _data(counts=(5, 9, 14, 20))
    W, b = central_path_classifier(H2, y2, lambda_W=0.1, lambda_b=0.0)
    Wf, bf = webb_lowe_classifier(H2, y2, ridge=0.1, weighting="frequency")
    assert np.allclose(W, Wf) and np.allclose(b, bf)


def test_the_default_bias_decay_is_the_weight_decay():
    H, y = _data()
    assert all(np.allclose(u, v) for u, v in zip(central_path_classifier(H, y, lambda_W=0.2),
                                                  central_path_classifier(H, y, lambda_W=0.2, lambda_b=0.2)))


def test_without_decay_and_fewer_samples_than_dimensions_the_minimum_norm_minimiser_is_returned():
    H, y = _data(C=3, n=4, p=20)
    W, b = central_path_classifier(H, y)
    assert np.isclose(_loss(H, y, W, b, 0, 0), 0, atol=1e-18)  # interpolates
    mu = H.mean(0)
    W_min = np.linalg.lstsq(H - mu, np.eye(3)[y] - np.eye(3)[y].mean(0), rcond=None)[0].T
    assert np.allclose(W, W_min, atol=1e-10)


@pytest.mark.parametrize("lw, lb", [(0.1, 0.1), (0.05, 0.0), (0.0, 0.0)])
@pytest.mark.parametrize("counts", [None, (12, 30, 7, 20)], ids=["balanced", "imbalanced"])
def test_the_three_terms_add_up_to_the_loss_evaluated_directly(lw, lb, counts):
    H, y = _data(counts=counts, offset=5.0, seed=3)
    rng = np.random.default_rng(1)
    W, b = rng.standard_normal((4, 6)), rng.standard_normal(4)
    d = mse_decomposition(H, y, W, b, lambda_W=lw, lambda_b=lb)
    assert np.isclose(d.total, _loss(H, y, W, b, lw, lb), rtol=1e-12)
    assert np.isclose(d.total, d.nc1 + d.nc2_3 + d.perp, rtol=1e-10)
    W0, b0 = _brute(H, y, lw, lb) if lw > 0 else central_path_classifier(H, y)
    assert np.isclose(d.perp, _loss(H, y, W, b, lw, lb) - _loss(H, y, W0, b0, lw, lb), rtol=1e-8)
    assert np.isclose(d.least_squares, _loss(H, y, W0, b0, lw, lb), rtol=1e-9)
    assert d.perp > 0 and d.nc1_within > 0 and d.nc2_3 > 0


def test_the_terms_are_han_et_al_s_in_their_appended_bias_form():
    # balanced: L_NC1 = (1/2) tr(V (Sigma~_W + lam I) V^T), L_NC2/3 = (1/2C) ||V M~^T - I||^2, with V = [W_LS b_LS]
    H, y = _data(offset=2.0, seed=5)
    lam, C, N = 0.07, 4, len(y)
    d = mse_decomposition(H, y, np.zeros((4, 6)), lambda_W=lam)
    X = np.hstack([H, np.ones((N, 1))])
    means = np.stack([X[y == c].mean(0) for c in range(C)])
    V = (means / C) @ np.linalg.inv(X.T @ X / N + lam * np.eye(7))  # their (1/C) M~^T (Sigma~_T + mu~ mu~^T + lam I)^-1
    Z = X - means[y]
    assert np.isclose(d.nc1, 0.5 * np.trace(V @ (Z.T @ Z / N + lam * np.eye(7)) @ V.T), rtol=1e-9)
    assert np.isclose(d.nc2_3, np.sum((V @ means.T - np.eye(C)) ** 2) / (2 * C), rtol=1e-9)
    assert np.allclose(np.c_[d.W_ls, d.b_ls], V, atol=1e-10)


def test_on_the_central_path_the_excess_is_zero_and_it_grows_quadratically_off_it():
    H, y = _data()
    W, b = central_path_classifier(H, y, lambda_W=0.1)
    assert mse_decomposition(H, y, W, b, lambda_W=0.1).perp < 1e-14
    D = np.random.default_rng(2).standard_normal(W.shape)
    e1 = mse_decomposition(H, y, W + 1e-2 * D, b, lambda_W=0.1).perp
    e2 = mse_decomposition(H, y, W + 2e-2 * D, b, lambda_W=0.1).perp
    assert np.isclose(e2 / e1, 4.0, rtol=1e-8)


def test_without_decay_the_central_path_loss_is_a_function_of_the_snr_singular_values():
    H, y = _data(C=5, n=40, p=8, offset=10.0)
    C = 5
    d = mse_decomposition(H, y, np.zeros((5, 8)))
    w = snr_singular_values(H, y)
    assert w.shape == (C - 1,) and np.all(np.diff(w) <= 0)
    assert np.isclose(d.least_squares, 0.5 * np.sum(1 / (C + w ** 2)), rtol=1e-9)
    assert np.isclose(d.nc1_within, 0.5 * np.sum(w ** 2 / (C + w ** 2) ** 2), rtol=1e-9)
    assert np.isclose(d.nc2_3, 0.5 * np.sum(C / (C + w ** 2) ** 2), rtol=1e-9)


def test_snr_is_whitened_fisher_and_invariant_under_affine_maps():
    H, y = _data(C=4, n=50, p=5)
    w = snr_singular_values(H, y)
    mu = np.stack([H[y == c].mean(0) for c in range(4)])
    M = mu - H.mean(0)
    R = H - mu[y]
    S_W = R.T @ R / len(y)
    eig = np.sort(np.linalg.eigvals(np.linalg.solve(S_W, M.T @ M)).real)[::-1][:3]
    assert np.allclose(w ** 2, eig, rtol=1e-8)
    A = np.random.default_rng(9).standard_normal((5, 5))
    assert np.allclose(snr_singular_values(H @ A.T - 4.0, y), w, rtol=1e-8)


def test_nc1_is_at_least_the_sum_of_inverse_squared_snr_with_equality_for_uncorrelated_noise():
    H, y = _data(C=4, n=60, p=7)
    w = snr_singular_values(H, y)
    assert ncedu.measure(H, y).nc1 > np.sum(w ** -2.0) * 1.01
    # means in the first 3 coordinates, noise uncorrelated between those and the rest: equality
    rng = np.random.default_rng(4)
    y = np.repeat(np.arange(4), 60)
    means = np.zeros((4, 7))
    means[:, :3] = 2 * simplex_etf(4, 3) + 0.5 * rng.standard_normal((4, 3))
    noise = np.zeros((240, 7))
    noise[:, :3] = rng.standard_normal((240, 3)) @ rng.standard_normal((3, 3))
    noise[:, 3:] = rng.standard_normal((240, 4)) @ rng.standard_normal((4, 4))
    noise -= np.stack([noise[y == c].mean(0) for c in range(4)])[y]
    Q = np.linalg.qr(np.hstack([noise[:, :3], np.eye(4)[y]]))[0]
    noise[:, 3:] -= Q @ (Q.T @ noise[:, 3:])   # exactly uncorrelated with the noise inside, class means kept
    H = means[y] + noise
    w = snr_singular_values(H, y)
    assert np.isclose(ncedu.measure(H, y).nc1, np.sum(w ** -2.0), rtol=1e-8)


def test_a_singular_within_class_covariance_gives_nan_with_a_warning():
    y = np.repeat(np.arange(3), 5)
    H = simplex_etf(3, 4)[y]                                   # exact collapse: Sigma_W = 0
    with pytest.warns(RuntimeWarning, match="singular"):
        w = snr_singular_values(H, y)
    assert w.shape == (2,) and np.all(np.isnan(w))


def test_bad_input_names_the_argument():
    H, y = _data()
    with pytest.raises(ValueError, match="lambda_W"):
        central_path_classifier(H, y, lambda_W=-1.0)
    with pytest.raises(TypeError, match="lambda_b"):
        central_path_classifier(H, y, lambda_b="0.1")
    with pytest.raises(ValueError, match="W must have shape"):
        mse_decomposition(H, y, np.zeros((6, 4)))
    with pytest.raises(ValueError, match="labels"):
        mse_decomposition(H, y[:-1], np.zeros((4, 6)))
    with pytest.raises(ValueError, match="lr"):
        central_path_flow(H, y, lr=0.0)
    with pytest.raises(ValueError, match="renormalised"):
        central_path_flow(*_data(C=3, n=3, p=10), steps=2)
    with pytest.raises(ValueError, match="omega"):
        central_path_clock([1.0, -2.0], 3)


# ----------------------------------------------------------------------------------------------
# Along a run
# ----------------------------------------------------------------------------------------------


def _history(omega=0.01):
    H, y = _data(C=3, n=20, p=4, seed=7)
    h = History(config={"weight_decay": omega}, sample_labels=y)
    rng = np.random.default_rng(0)
    for e in (1, 2, 3):
        W, b = rng.standard_normal((3, 4)), rng.standard_normal(3)
        h.append(epoch=e, sample_features=(H * e).astype(np.float32), W=W, b=b, class_means=np.zeros((3, 4)))
    return h, y


def test_along_training_repeats_the_decomposition_at_every_epoch_with_lambda_c_omega_over_2():
    h, y = _history(0.01)
    out = central_path_along_training(h)
    assert out["snr"].shape == (3, 2) and out["epoch"].tolist() == [1, 2, 3]
    for k in range(3):
        H = h["sample_features"][k].astype(np.float64)
        d = mse_decomposition(H, y, h["W"][k], h["b"][k], lambda_W=3 * 0.01 / 2)
        for key in ("total", "nc1_within", "ridge", "nc2_3", "perp"):
            assert np.isclose(out[key][k], getattr(d, key), rtol=1e-12), key
        assert np.isclose(out["perp_share"][k], d.perp / d.total)
        assert np.allclose(out["snr"][k], snr_singular_values(H, y))
    assert np.allclose(out["snr_nc1"], np.sum(out["snr"] ** -2.0, axis=1))
    other = central_path_along_training(h, lambda_W=0.2, lambda_b=0.0)
    d = mse_decomposition(h["sample_features"][0].astype(np.float64), y, h["W"][0], h["b"][0], lambda_W=0.2,
                          lambda_b=0.0)
    assert np.isclose(other["total"][0], d.total)


def test_the_train_objective_is_c_over_2_times_this_one():
    # ncedu.train's loss: mean over the N C entries + (omega/2)(||W||^2 + ||b||^2)
    H, y = _data()
    rng = np.random.default_rng(3)
    W, b, omega, C = rng.standard_normal((4, 6)), rng.standard_normal(4), 0.01, 4
    train = np.mean((H @ W.T + b - np.eye(C)[y]) ** 2) + omega / 2 * (np.sum(W ** 2) + np.sum(b ** 2))
    d = mse_decomposition(H, y, W, b, lambda_W=C * omega / 2)
    assert np.isclose(d.total, C / 2 * train, rtol=1e-12)


def test_along_training_refuses_what_it_cannot_use():
    with pytest.raises(TypeError, match="History"):
        central_path_along_training({"W": []})
    with pytest.raises(ValueError, match="sample_features"):
        central_path_along_training(History(config={"weight_decay": 0.0}))
    h, _ = _history()
    h.config.pop("weight_decay")
    with pytest.raises(ValueError, match="lambda_W"):
        central_path_along_training(h)


# ----------------------------------------------------------------------------------------------
# The flow
# ----------------------------------------------------------------------------------------------


def _rk4(f, w0, t_end, n=20000):
    w, dt = np.array(w0, dtype=float), t_end / n
    for _ in range(n):
        k1 = f(w); k2 = f(w + dt / 2 * k1); k3 = f(w + dt / 2 * k2); k4 = f(w + dt * k3)
        w = w + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return w


@pytest.mark.parametrize("noise_step", [False, True])
def test_the_flow_follows_the_ode_and_its_closed_form(noise_step):
    C = 4
    H, y = _data(C=C, n=40, p=3, seed=11)
    flow = central_path_flow(H, y, steps=800, lr=0.05, noise_step=noise_step, record_at=[400])
    rate = (lambda w: w / (C + w ** 2)) if noise_step else (lambda w: C * w / (C + w ** 2) ** 2)
    expected = _rk4(rate, flow.snr[0], flow.time[-1])
    assert np.allclose(flow.snr[-1], expected, rtol=2e-3)
    F = central_path_clock(flow.snr, C, noise_step=noise_step)
    assert np.allclose(F - F[0], flow.time[:, None], rtol=5e-3, atol=1e-9)
    assert np.all(np.diff(flow.loss) < 0) and np.all(np.diff(flow.snr, axis=0) > 0)


def test_the_renormalised_flow_keeps_sigma_w_the_identity_and_moves_only_the_means():
    H, y = _data(C=3, n=30, p=2, seed=2)
    flow = central_path_flow(H, y, steps=50, lr=0.5)
    X = flow.features
    mu = np.stack([X[y == c].mean(0) for c in range(3)])
    R = X - mu[y]
    assert np.allclose(R.T @ R / len(y), np.eye(2), atol=1e-12)
    assert np.allclose(X.mean(0), 0, atol=1e-12)


def test_the_clock_grows_like_omega_to_the_fourth_and_the_ratios_tend_to_one():
    C = 10
    w = np.array([1e3, 1e4])
    F = central_path_clock(w, C)
    assert np.allclose(F / (w ** 4 / (4 * C)), 1, rtol=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isclose(central_path_clock(np.array([2.0]), 3, noise_step=True)[0], 3 * np.log(2) + 2)


def test_along_training_warns_once_where_the_features_have_collapsed():
    y = np.repeat(np.arange(3), 6)
    E = 2 * simplex_etf(3, 4)
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((18, 4))
    h = History(config={"weight_decay": 0.0}, sample_labels=y)
    for e, size in ((1, 1.0), (2, 1e-20), (3, 0.0)):            # the last two: rounding or nothing left
        h.append(epoch=e, sample_features=E[y] + size * noise, W=E, b=np.zeros(3), class_means=E)
    with pytest.warns(RuntimeWarning, match="2 of 3 measured epochs") as caught:
        out = central_path_along_training(h)
    assert len(caught) == 1
    assert np.all(np.isfinite(out["snr"][0])) and np.all(np.isnan(out["snr"][1:]))
