"""The chapters' computations that moved into ncedu, against independent computations.

* ``ncedu.analysis``: logits, margins and losses against torch's cross-entropy and brute force;
  the terminal-phase summary and ``zero_from`` on runs built by hand; the classifier angles
  against a per-sample loop with the closed-form gradient; the weight-decay memory against
  ``torch.optim.SGD`` on a parameter the loss does not see; NCC margins against brute-force
  distances; McNemar against scipy's binomial test and a brute-force enumeration.
* ``ncedu.nc1_analysis``: the NC1 identities (sum of direction ratios, whitened eigenvalues and
  Fisher's criterion), the inside/outside split against a projection built from the pseudo-inverse,
  and the convention variants against the closed forms of chapter 1.
* ``ncedu.theory`` along a run: the Webb–Lowe comparison against explicit formulas, the pairwise
  SVM analysis on a collapsed simplex and against SciPy's SLSQP; ``push_apart``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from scipy.stats import binomtest

import ncedu
from ncedu import analysis, nc1_analysis, theory
from ncedu.history import History

from .reference import reference_metrics

torch.set_num_threads(1)


def random_history(seed=0, C=3, p=4, per_class=5, epochs=(1, 2, 5), scale=1.0):
    """A History with random sampled features, classifier and class means at a few epochs."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(C), per_class)
    h = History(config={"weight_decay": 5e-3}, sample_labels=y, class_counts=np.full(C, 10))
    for k, e in enumerate(epochs):
        centres = 3 * rng.standard_normal((C, p))
        H = centres[y] + scale * rng.standard_normal((len(y), p))
        h.append(epoch=e, sample_features=H, W=rng.standard_normal((C, p)), b=rng.standard_normal(C),
                 class_means=centres + 0.1 * rng.standard_normal((C, p)), train_loss=1.0 / (k + 1),
                 train_acc=min(1.0, 0.5 + 0.3 * k), nc1=1.0 / (k + 1) ** 2, nc3=0.5 / (k + 1))
    return h


# ----------------------------------------------------------------------------------------------
# ncedu.analysis
# ----------------------------------------------------------------------------------------------


def test_margins_and_losses_against_torch_and_brute_force():
    h = random_history(1, C=4, p=3, per_class=6, scale=2.0)
    m, ell = analysis.margins_and_losses(h)
    y = h.sample_labels
    for e in range(len(h)):
        H = h["sample_features"][e].astype(np.float64)
        Z = H @ h["W"][e].T + h["b"][e]
        ref = torch.nn.functional.cross_entropy(torch.tensor(Z), torch.tensor(y), reduction="none").numpy()
        np.testing.assert_allclose(ell[e], ref, rtol=1e-12, atol=1e-14)
        for i in range(len(y)):
            others = [Z[i, c] for c in range(4) if c != y[i]]
            assert m[e, i] == pytest.approx(Z[i, y[i]] - max(others), abs=1e-12)
    C = 4                                          # the bounds of chapter 2's proposition
    assert np.all(np.log1p(np.exp(-m)) <= ell + 1e-12) and np.all(ell <= np.log1p((C - 1) * np.exp(-m)) + 1e-12)


def test_the_loss_of_huge_logits_is_exact():
    h = History(sample_labels=[0, 1])
    h.append(epoch=1, sample_features=np.array([[0.0, 1.0], [1.0, 0.0]]), W=1e4 * np.eye(2), b=np.zeros(2),
             class_means=np.eye(2))
    m, ell = analysis.margins_and_losses(h)
    assert m.tolist() == [[-1e4, -1e4]] and ell == pytest.approx(1e4, rel=1e-12)


def test_the_terminal_phase_summary_of_a_run_built_by_hand():
    h = random_history(2, epochs=(1, 2, 5, 9))          # train_acc 0.5, 0.8, 1.0, 1.0: terminal phase from epoch 5
    s = analysis.terminal_phase_summary(h)
    W = h["W"]
    assert s["tpt"] == 5 and s["loss_tpt"] == pytest.approx(1 / 3) and s["loss_end"] == pytest.approx(1 / 4)
    assert s["W_growth"] == pytest.approx(np.sqrt((W[3] ** 2).sum() / (W[2] ** 2).sum()))
    assert s["nc1_fall"] == pytest.approx(16.0) and s["nc1_tpt_fall"] == pytest.approx(16 / 9)
    assert s["nc3_tpt_fall"] == pytest.approx(4 / 3)
    assert s["margin_end"] == pytest.approx(np.median(analysis.margins_and_losses(h)[0][-1]))
    never = random_history(2, epochs=(1, 2))
    s = analysis.terminal_phase_summary(never)
    assert s["tpt"] is None and math.isnan(s["loss_tpt"]) and math.isnan(s["W_growth"])


@pytest.mark.parametrize("values,expected", [([0.3, 0, 0.1, 0, 0], 4), ([0, 0, 0], 1), ([0.2, 0, 0.1], None)])
def test_zero_from(values, expected):
    h = History()
    for e, v in enumerate(values, start=1):
        h.append(epoch=e, nc4=v)
    assert analysis.zero_from(h) == expected


def test_classifier_angles_against_a_per_sample_loop():
    h = random_history(3, C=3, p=5, per_class=4)
    stats = analysis.classifier_angles(h)
    y = h.sample_labels
    cos = lambda u, v: u @ v / (np.linalg.norm(u) * np.linalg.norm(v))
    for e in range(len(h)):
        H, W, b, means = (h[k][e].astype(np.float64) for k in ("sample_features", "W", "b", "class_means"))
        mu_G = h.class_counts @ means / h.class_counts.sum()
        own = [cos(H[i] - mu_G, W[y[i]]) for i in range(len(y))]
        rival = [max(cos(H[i] - mu_G, W[c]) for c in range(3) if c != y[i]) for i in range(len(y))]
        Z = H @ W.T + b
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        G = np.array([W.T @ (P[i] - np.eye(3)[y[i]]) for i in range(len(y))])      # closed-form gradient
        np.testing.assert_allclose(stats["own"][e], np.quantile(own, [0.1, 0.5, 0.9]), rtol=1e-10)
        assert stats["rival"][e] == pytest.approx(np.median(rival), rel=1e-10)
        assert stats["own_raw"][e] == pytest.approx(np.median([cos(H[i], W[y[i]]) for i in range(len(y))]), rel=1e-10)
        assert stats["mean_cos"][e] == pytest.approx(min(cos(means[c] - mu_G, W[c]) for c in range(3)), rel=1e-10)
        assert stats["w"][e] == pytest.approx(np.mean([np.linalg.norm(w) for w in W]), rel=1e-12)
        assert stats["m"][e] == pytest.approx(np.mean([np.linalg.norm(mu - mu_G) for mu in means]), rel=1e-12)
        assert stats["h"][e] == pytest.approx(np.mean([np.linalg.norm(x - mu_G) for x in H]), rel=1e-12)
        assert stats["grad"][e] == pytest.approx(np.median(np.linalg.norm(G, axis=1)), rel=1e-10)
        assert stats["grad_cos"][e] == pytest.approx(
            np.median([cos(-G[i], means[y[i]] - mu_G) for i in range(len(y))]), rel=1e-10)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_weight_decay_memory_follows_torch_sgd_on_a_weight_the_loss_does_not_see(momentum):
    cfg = dict(lr=0.05, weight_decay=5e-3, momentum=momentum, num_train=50, batch_size=16, epochs=7,
               lr_decay=0.1, lr_milestones=[2, 5])
    w = torch.nn.Parameter(torch.ones(1, dtype=torch.float64))
    opt = torch.optim.SGD([w], lr=cfg["lr"], momentum=momentum, weight_decay=cfg["weight_decay"])
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 5], gamma=0.1)
    expected = [1.0]
    for _ in range(cfg["epochs"]):
        for _ in range(4):                             # ceil(50 / 16) batches
            opt.zero_grad()
            (0.0 * w).sum().backward()                 # the loss does not depend on w
            opt.step()
        sched.step()
        expected.append(w.item())
    np.testing.assert_allclose(analysis.weight_decay_memory(cfg), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="lacks"):
        analysis.weight_decay_memory({"lr": 0.1})


def test_ncc_margins_against_brute_force_distances():
    rng = np.random.default_rng(4)
    mu, H = rng.standard_normal((4, 3)), rng.standard_normal((50, 3))
    d2 = np.sort(((H[:, None] - mu[None]) ** 2).sum(axis=2), axis=1)
    r = np.mean(np.linalg.norm(mu - mu.mean(axis=0), axis=1))
    np.testing.assert_allclose(analysis.ncc_margins(H, mu), (d2[:, 1] - d2[:, 0]) / r ** 2, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(analysis.ncc_margins(H, mu, scale=2.0), (d2[:, 1] - d2[:, 0]) / 4, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="scale"):
        analysis.ncc_margins(H, np.ones((2, 3)))


@pytest.mark.parametrize("b,c", [(0, 0), (3, 3), (7, 1), (1, 9), (20, 12), (0, 6)])
def test_mcnemar_is_the_exact_binomial_test(b, c):
    expected = 1.0 if b + c == 0 else binomtest(b, b + c, 0.5).pvalue
    assert analysis.mcnemar_p(b, c) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("start,end", [(10, 4), (4, 10), (5, 5), (0, 3)])
def test_mcnemar_splits_are_every_split_the_counts_allow(start, end):
    splits, p = analysis.mcnemar_splits(start, end)
    brute = [(b, c) for b in range(start + 1) for c in range(end + 1) if b - c == start - end]
    assert splits == brute and p == [analysis.mcnemar_p(b, c) for b, c in brute]
    with pytest.raises(ValueError, match="errors_start"):
        analysis.mcnemar_splits(-1, 2)


# ----------------------------------------------------------------------------------------------
# ncedu.nc1_analysis
# ----------------------------------------------------------------------------------------------


def gaussian_classes(seed, counts, p, spread=1.0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    return 2 * rng.standard_normal((len(counts), p))[y] + spread * rng.standard_normal((len(y), p)), y


@pytest.mark.parametrize("counts,p", [([30, 30, 30, 30], 6), ([10, 40, 25], 5), ([20, 20, 20, 20, 20], 3)])
def test_nc1_is_the_sum_of_the_direction_ratios_and_of_the_whitened_eigenvalues(counts, p):
    H, y = gaussian_classes(0, counts, p)
    C = len(counts)
    ref = reference_metrics(H, y)
    d = nc1_analysis.direction_ratios(H, y)
    assert d.ratios.sum() / C == pytest.approx(ref["nc1"], rel=1e-9) and d.nc1 == pytest.approx(ref["nc1"], rel=1e-9)
    assert np.all(np.diff(d.eigenvalues) <= 0) and len(d.ratios) == min(C - 1, p)
    # each ratio: the within-class variance along the eigenvector over its eigenvalue
    mu = ref["class_means"]
    M = mu - H.mean(axis=0)
    lam, V = np.linalg.eigh(M.T @ M / C)
    R = H - mu[y]
    for k, (l, v) in enumerate(zip(lam[::-1][: len(d.ratios)], V[:, ::-1].T)):
        assert d.ratios[k] == pytest.approx(np.mean((R @ v) ** 2) / l, rel=1e-8)
    omega = nc1_analysis.whitened_within_eigenvalues(H, y)
    assert omega.sum() == pytest.approx(C * ref["nc1"], rel=1e-9)
    Vk = V[:, lam > 1e-10 * lam.max()]
    S_W, S_B = R.T @ R / len(H), M.T @ M / C
    fisher = np.trace(np.linalg.inv(Vk.T @ S_W @ Vk) @ (Vk.T @ S_B @ Vk))
    assert (1 / omega).sum() == pytest.approx(fisher, rel=1e-8)


def test_the_within_class_split_against_the_projection_onto_the_means():
    H, y = gaussian_classes(1, [15, 25, 20], 6, spread=2.0)
    inside, outside = nc1_analysis.within_class_split(H, y)
    mu = np.stack([H[y == c].mean(axis=0) for c in range(3)])
    M = mu - H.mean(axis=0)
    P = np.linalg.pinv(M) @ M                           # projection onto the row space of M
    R = H - mu[y]
    S_W = R.T @ R / len(H)
    assert inside == pytest.approx(np.trace(P @ S_W), rel=1e-10)
    assert inside + outside == pytest.approx(np.trace(S_W), rel=1e-12)


def test_nc1_variants_match_the_closed_forms_of_chapter_1():
    counts = np.array([10, 25, 40, 15])
    H, y = gaussian_classes(2, counts, 7)
    C, N = len(counts), counts.sum()
    nc1 = ncedu.measure(H, y).nc1
    assert nc1_analysis.nc1_variant(H, y) == pytest.approx(nc1, rel=1e-9)
    assert nc1_analysis.nc1_variant(H, y, divide_by_classes=False) == pytest.approx(C * nc1, rel=1e-9)
    # the slip: NC1 + sum_c (n_c / N) P_cc = NC1 + 1 - sum n_c^3 / (N sum n_c^2) when the means span C - 1 dims
    slip = nc1_analysis.nc1_variant(H, y, within_centre="global")
    assert slip == pytest.approx(nc1 + 1 - (counts ** 3).sum() / (N * (counts ** 2).sum()), rel=1e-9)
    # mu_G as the mean of the class means: the same as a given vector, and the same as the sample mean if balanced
    mu = np.stack([H[y == c].mean(axis=0) for c in range(C)])
    assert nc1_analysis.nc1_variant(H, y, global_mean="class_means") == pytest.approx(
        nc1_analysis.nc1_variant(H, y, global_mean=mu.mean(axis=0)), rel=1e-12)
    Hb, yb = gaussian_classes(3, [20] * 4, 7)
    assert nc1_analysis.nc1_variant(Hb, yb, global_mean="class_means") == pytest.approx(
        ncedu.measure(Hb, yb).nc1, rel=1e-9)
    assert nc1_analysis.nc1_variant(Hb, yb, within_centre="global") == pytest.approx(
        ncedu.measure(Hb, yb).nc1 + (C - 1) / C, rel=1e-9)
    with pytest.raises(ValueError, match="global_mean"):
        nc1_analysis.nc1_variant(H, y, global_mean="median")
    with pytest.raises(ValueError, match="within_centre"):
        nc1_analysis.nc1_variant(H, y, within_centre="sample")
    with pytest.raises(ValueError, match="global_mean must have shape"):
        nc1_analysis.nc1_variant(H, y, global_mean=np.zeros(3))


# ----------------------------------------------------------------------------------------------
# The propositions along a run
# ----------------------------------------------------------------------------------------------


def test_webb_lowe_along_training_against_explicit_formulas():
    h = random_history(5, C=3, p=4, per_class=8)
    out = theory.webb_lowe_along_training(h)
    y = h.sample_labels
    C, lam = 3, 3 * 5e-3 / 2
    D = lambda A, B: np.sum((A / np.linalg.norm(A) - B / np.linalg.norm(B)) ** 2)
    for e in range(len(h)):
        H, W, b = h["sample_features"][e].astype(np.float64), h["W"][e], h["b"][e]
        Y = np.eye(C)[y]
        X = np.hstack([H, np.ones((len(y), 1))])
        sol = np.linalg.lstsq(X, Y, rcond=None)[0]                  # full rank: the unique least-squares fit
        W_ls, b_ls = sol[:-1].T, sol[-1]
        M = np.stack([H[y == c].mean(axis=0) for c in range(C)]) - H.mean(axis=0)
        S_T = (H - H.mean(axis=0)).T @ (H - H.mean(axis=0)) / len(H)
        W_lam = M @ np.linalg.inv(S_T + lam * np.eye(4)) / C        # balanced classes: (1/C) M (Sigma_T + lam I)^-1
        assert out["D_wl"][e] == pytest.approx(D(W, W_ls), rel=1e-8)
        assert out["D_lam"][e] == pytest.approx(D(W, W_lam), rel=1e-8)
        assert out["nc3"][e] == pytest.approx(D(W, M), rel=1e-12)
        assert out["mse"][e] == pytest.approx(np.mean((H @ W.T + b - Y) ** 2), rel=1e-12)
        assert out["mse_wl"][e] == pytest.approx(np.mean((X @ sol - Y) ** 2), rel=1e-8)


def collapsed_simplex_history(shift=0.0):
    E = ncedu.simplex_etf(3, 2)
    y = np.repeat(np.arange(3), 4)
    h = History(sample_labels=y, class_counts=[4, 4, 4])
    h.append(epoch=1, sample_features=E[y] + shift, W=E, b=np.zeros(3), class_means=E + shift)
    return h


def test_pairwise_max_margin_of_a_collapsed_self_dual_simplex_is_exact():
    out = theory.pairwise_max_margin(collapsed_simplex_history())
    assert out.pairs == [(0, 1), (0, 2), (1, 2)]
    np.testing.assert_allclose(out.network_angle, 0, atol=1e-5)
    np.testing.assert_allclose(out.mean_angle, 0, atol=1e-5)
    np.testing.assert_allclose(out.margin_ratio, 1, atol=1e-10)
    np.testing.assert_allclose(out.spread, 1, atol=1e-10)
    assert out.support.tolist() == [8, 8, 8]


def test_pairwise_max_margin_against_slsqp():
    h = random_history(6, C=3, p=2, per_class=5, scale=0.3)
    out = theory.pairwise_max_margin(h)
    for q, (a, b) in enumerate(out.pairs):
        X, y = theory.pair_features(h, 0, a, b)
        Z = y[:, None] * X
        res = minimize(lambda w: w @ w, np.ones(3), jac=lambda w: 2 * w, method="SLSQP",
                       constraints=[{"type": "ineq", "fun": lambda w: Z @ w - 1, "jac": lambda w: Z}],
                       options={"ftol": 1e-14, "maxiter": 500})
        u = res.x / np.linalg.norm(res.x)
        w_net = theory.pair_classifier(h, 0, a, b)
        assert np.array_equal(w_net, np.r_[h["W"][0][a] - h["W"][0][b], h["b"][0][a] - h["b"][0][b]])
        expected = np.degrees(np.arccos(np.clip(w_net @ u / np.linalg.norm(w_net), -1, 1)))
        assert out.network_angle[0, q] == pytest.approx(expected, abs=1e-3)
        gamma = 1 / np.linalg.norm(res.x)
        assert out.margin_ratio[0, q] == pytest.approx(np.min(Z @ w_net) / np.linalg.norm(w_net) / gamma, rel=1e-5)


def test_pair_features_check_their_classes():
    h = collapsed_simplex_history()
    X, y = theory.pair_features(h, -1, 0, 2)
    assert X.shape == (8, 3) and np.all(X[:, -1] == 1) and y.tolist() == [1] * 4 + [-1] * 4
    with pytest.raises(ValueError, match="different"):
        theory.pair_features(h, 0, 1, 1)
    with pytest.raises(ValueError, match="occur"):
        theory.pair_features(h, 0, 1, 5)
    with pytest.raises(TypeError, match="History"):
        theory.pairwise_max_margin({"W": 1})


def test_push_apart_reaches_the_simplex_where_it_exists_and_stays_below_the_bound_where_not():
    for seed in range(3):
        U = theory.push_apart(6, 8, seed)
        np.testing.assert_allclose(np.linalg.norm(U, axis=1), 1, atol=1e-14)
        np.testing.assert_allclose(U @ U.T, ncedu.etf_gram(6), atol=1e-10)
    assert np.array_equal(theory.push_apart(6, 8, 1), theory.push_apart(6, 8, 1))
    U = theory.push_apart(6, 2, 0)
    D = np.linalg.norm(U[:, None] - U[None], axis=2)[np.triu_indices(6, 1)]
    assert D.min() < math.sqrt(2 * 6 / 5) - 0.1            # six points in the plane: at best a hexagon, distance 1
    with pytest.raises(ValueError, match="beta"):
        theory.push_apart(3, 2, beta=0.0)
    with pytest.raises(ValueError, match="dim"):
        theory.push_apart(3, 0)
