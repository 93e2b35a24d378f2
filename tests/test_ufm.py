"""The unconstrained features model (ncedu.theory.ufm, ufm_optimum) against independent computations.

* The objective and its gradients against torch's cross-entropy / squared error and autograd.
* Gradient descent against a plain ``torch.optim.SGD`` loop on the same objective (full batch and
  minibatches), and its determinism.
* The closed-form optima: zero gradient and a local minimum there (perturbations raise ``f``),
  and gradient descent from random starts reaching the same value and Gram matrices (balanced
  cross-entropy with ``p = C - 1`` and ``p > C``, the trivial regime, the squared error with a free,
  a regularised and no bias, imbalanced counts without a bias).
* The History it returns, drawn by ``ncedu.viz`` and saved like a network run; bad input.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pytest
import torch

import ncedu
from ncedu.theory import UFMHistory, train_ufm, ufm_gradients, ufm_labels, ufm_objective, ufm_optimum

torch.set_num_threads(1)


def torch_objective(H, W, b, y, loss, lam_H, lam_W, lam_b):
    """The objective written with torch's own losses (float64), independently of ncedu."""
    N, C = H.shape[0], W.shape[0]
    Z = H @ W.T + (0 if b is None else b)
    if loss == "cross_entropy":
        data = torch.nn.functional.cross_entropy(Z, y)
    else:  # half the squared norm per sample, averaged over samples
        data = 0.5 * C * torch.nn.functional.mse_loss(Z, torch.nn.functional.one_hot(y, C).to(Z.dtype))
    penalty = lam_W / 2 * W.pow(2).sum() + lam_H / (2 * N) * H.pow(2).sum()
    if b is not None:
        penalty = penalty + lam_b / 2 * b.pow(2).sum()
    return data + penalty


def random_problem(seed, counts, p, scale=1.0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    return scale * rng.standard_normal((len(y), p)), rng.standard_normal((len(counts), p)), rng.standard_normal(len(counts)), y


# ----------------------------------------------------------------------------------------------
# Objective and gradients
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("counts,p", [([3, 3, 3], 2), ([5, 1, 2, 7], 6), ([2, 9], 1)])
def test_objective_and_gradients_agree_with_torch_autograd(loss, with_bias, counts, p):
    H, W, b, y = random_problem(sum(counts) + p, counts, p, scale=3.0)
    b = b if with_bias else None
    lam = dict(lambda_H=0.3, lambda_W=0.07, lambda_b=0.5)
    f, dH, dW, db = ufm_gradients(H, W, b, y, loss=loss, **lam)
    Ht, Wt = torch.tensor(H, requires_grad=True), torch.tensor(W, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    ref = torch_objective(Ht, Wt, bt, torch.tensor(y), loss, 0.3, 0.07, 0.5)
    ref.backward()
    assert f == pytest.approx(ref.item(), rel=1e-13)
    assert ufm_objective(H, W, b, y, loss=loss, **lam) == pytest.approx(ref.item(), rel=1e-13)
    np.testing.assert_allclose(dH, Ht.grad.numpy(), rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(dW, Wt.grad.numpy(), rtol=1e-11, atol=1e-14)
    if b is None:
        assert db is None
    else:
        np.testing.assert_allclose(db, bt.grad.numpy(), rtol=1e-11, atol=1e-14)


def test_the_cross_entropy_stays_finite_for_huge_scores():
    H = np.array([[1e6, 0.0], [0.0, 1e6]])    # exp(1e6) overflows: the loss must come from log-sum-exp
    f = ufm_objective(H, np.eye(2), None, [1, 0], lambda_H=0, lambda_W=0, lambda_b=0)
    assert f == pytest.approx(1e6, rel=1e-12)  # each sample's own score trails the other by 1e6


def test_labels_come_in_blocks():
    assert ufm_labels(3, 2).tolist() == [0, 0, 1, 1, 2, 2]
    assert ufm_labels(2, [1, 3]).tolist() == [0, 1, 1, 1]


# ----------------------------------------------------------------------------------------------
# Gradient descent against a plain torch loop
# ----------------------------------------------------------------------------------------------


def torch_sgd(counts, p, loss, lam, lr, momentum, steps, seed, bias=True, batches=None):
    """The model trained by torch.optim.SGD and autograd; the start is torch's N(0,1) and N(0,1/p)."""
    C, N = len(counts), sum(counts)
    y = torch.arange(C).repeat_interleave(torch.tensor(counts))
    torch.manual_seed(seed)
    H = torch.randn(N, p, dtype=torch.float64, requires_grad=True)
    W = (torch.randn(C, p, dtype=torch.float64) / p ** 0.5).requires_grad_()
    b = torch.zeros(C, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([H, W] + ([b] if bias else []), lr=lr, momentum=momentum)
    for t in range(steps):
        opt.zero_grad()
        if batches is None:
            f = torch_objective(H, W, b if bias else None, y, loss, *lam)
        else:  # (1/|B|) sum over the batch, features of the batch decayed with weight 1/|B| each
            idx = torch.as_tensor(batches[t])
            Hb = H[idx]
            Z = Hb @ W.T + (b if bias else 0)
            if loss == "cross_entropy":
                data = torch.nn.functional.cross_entropy(Z, y[idx])
            else:
                data = 0.5 * C * torch.nn.functional.mse_loss(Z, torch.nn.functional.one_hot(y[idx], C).to(Z.dtype))
            f = data + lam[0] / (2 * len(idx)) * Hb.pow(2).sum() + lam[1] / 2 * W.pow(2).sum()
            if bias:
                f = f + lam[2] / 2 * b.pow(2).sum()
        f.backward()
        opt.step()
    return H.detach().numpy(), W.detach().numpy(), b.detach().numpy()


@pytest.mark.parametrize("loss,bias", [("cross_entropy", True), ("mse", True), ("cross_entropy", False)])
def test_full_batch_descent_follows_torch_sgd_with_momentum(loss, bias):
    counts, p, lam = [6, 4, 5], 4, (0.05, 0.02, 0.1)
    H, W, b = torch_sgd(counts, p, loss, lam, lr=0.7, momentum=0.8, steps=60, seed=3, bias=bias)
    run = train_ufm(3, p, counts, loss=loss, lambda_H=lam[0], lambda_W=lam[1], lambda_b=lam[2], bias=bias,
                    steps=60, lr=0.7, momentum=0.8, seed=3, samples_per_class=None)
    np.testing.assert_allclose(run.features, H, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(run["W"][-1], W, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(run["b"][-1], b if bias else 0, rtol=1e-10, atol=1e-12)
    m = ncedu.measure(H, ufm_labels(3, counts), W, b if bias else None)
    assert run["nc1"][-1] == pytest.approx(m.nc1, rel=1e-8)
    assert run.objective[-1] == pytest.approx(
        torch_objective(*(torch.tensor(a) for a in (H, W)), torch.tensor(b) if bias else None,
                        torch.tensor(ufm_labels(3, counts)), loss, *lam).item(), rel=1e-10)


def test_minibatch_sgd_follows_torch_on_the_same_batches():
    counts, p, lam, bs, steps = [5, 3, 4], 3, (0.1, 0.05, 0.02), 5, 23
    N = sum(counts)
    rng = np.random.default_rng(11)     # the documented order: a fresh permutation per pass, cut in batches
    batches = []
    while len(batches) < steps:
        perm = rng.permutation(N)
        batches += [perm[k:k + bs] for k in range(0, N, bs)]
    H, W, b = torch_sgd(counts, p, "cross_entropy", lam, lr=0.5, momentum=0.5, steps=steps, seed=11,
                        batches=batches[:steps])
    run = train_ufm(3, p, counts, lambda_H=lam[0], lambda_W=lam[1], lambda_b=lam[2], steps=steps, lr=0.5,
                    momentum=0.5, batch_size=bs, seed=11)
    np.testing.assert_allclose(run.features, H, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(run["W"][-1], W, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(run["b"][-1], b, rtol=1e-10, atol=1e-12)


def test_runs_are_deterministic_and_seeded():
    a = train_ufm(3, 2, 4, steps=30, batch_size=3, seed=5)
    b = train_ufm(3, 2, 4, steps=30, batch_size=3, seed=5)
    c = train_ufm(3, 2, 4, steps=30, batch_size=3, seed=6)
    assert np.array_equal(a.features, b.features) and np.array_equal(a["W"], b["W"])
    assert not np.allclose(a.features, c.features)


def test_a_given_start_is_used_and_recorded_at_iteration_zero():
    E = 2.0 * ncedu.simplex_etf(3, 3)
    y = ufm_labels(3, 2)
    run = train_ufm(3, 3, 2, init=(E[y], 0.5 * E, np.zeros(3)), lambda_H=0, lambda_W=0, lambda_b=0,
                    steps=50, lr=0.5, momentum=0.0, record_at=[0, 10])
    assert run["epoch"].tolist() == [0, 10, 50] and run.config["init"] == "given"
    np.testing.assert_allclose(run["W"][0], 0.5 * E)
    # a collapsed start stays collapsed (the invariance of chapter 9): only the scales change
    assert run["nc1"][-1] < 1e-20 and run["nc3"][-1] < 1e-20
    assert np.linalg.norm(run["W"][-1]) > np.linalg.norm(0.5 * E)


# ----------------------------------------------------------------------------------------------
# Closed forms
# ----------------------------------------------------------------------------------------------

CLOSED_FORMS = [
    dict(num_classes=4, dim=3, per_class=5, loss="cross_entropy", lambda_H=1e-2, lambda_W=2e-2, lambda_b=1e-2),
    dict(num_classes=3, dim=5, per_class=4, loss="cross_entropy", lambda_H=0.3, lambda_W=0.5, lambda_b=0.0),
    dict(num_classes=5, dim=8, per_class=3, loss="cross_entropy", lambda_H=0.6, lambda_W=0.5, lambda_b=0.1, bias=False),
    dict(num_classes=4, dim=3, per_class=5, loss="mse", lambda_H=2e-2, lambda_W=1e-2, lambda_b=0.0),
    dict(num_classes=4, dim=5, per_class=5, loss="mse", lambda_H=2e-2, lambda_W=1e-2, lambda_b=0.5),
    dict(num_classes=4, dim=4, per_class=5, loss="mse", lambda_H=2e-2, lambda_W=1e-2, bias=False),
    dict(num_classes=5, dim=6, per_class=[20, 20, 10, 3, 1], loss="mse", lambda_H=0.05, lambda_W=0.02, bias=False),
    dict(num_classes=5, dim=6, per_class=[20, 20, 10, 3, 1], loss="mse", lambda_H=0.2, lambda_W=0.1, bias=False),
]


@pytest.mark.parametrize("settings", CLOSED_FORMS, ids=lambda s: f"{s['loss']}-{s['per_class']}-{s.get('bias', True)}")
def test_the_closed_form_optimum_is_a_critical_point_and_a_local_minimum(settings):
    opt = ufm_optimum(**settings)
    lam = {k: settings.get(k, 0.0) for k in ("lambda_H", "lambda_W", "lambda_b")}
    b = opt.b if settings.get("bias", True) else None
    f, dH, dW, db = ufm_gradients(opt.features, opt.W, b, opt.labels, loss=settings["loss"], **lam)
    assert f == pytest.approx(opt.objective, rel=1e-12)
    scale = 1e-12 * max(1.0, np.abs(opt.W).max())
    assert np.abs(dH).max() < scale and np.abs(dW).max() < scale
    assert db is None or np.abs(db).max() < 1e-12
    rng = np.random.default_rng(0)
    for _ in range(20):
        dH_, dW_ = 1e-3 * rng.standard_normal(opt.features.shape), 1e-3 * rng.standard_normal(opt.W.shape)
        db_ = None if b is None else 1e-3 * rng.standard_normal(len(b))
        assert ufm_objective(opt.features + dH_, opt.W + dW_, None if b is None else b + db_, opt.labels,
                             loss=settings["loss"], **lam) > opt.objective


@pytest.mark.parametrize("settings", CLOSED_FORMS, ids=lambda s: f"{s['loss']}-{s['per_class']}-{s.get('bias', True)}")
def test_gradient_descent_from_random_starts_reaches_the_closed_form(settings):
    opt = ufm_optimum(**settings)
    for seed in (0, 1):
        run = train_ufm(**settings, steps=6000, lr=0.5, momentum=0.9, seed=seed, num_records=3)
        assert run.objective[-1] == pytest.approx(opt.objective, rel=1e-7)
        np.testing.assert_allclose(run["W"][-1] @ run["W"][-1].T, opt.gram_W(), atol=1e-5)
        means = run["class_means"][-1]
        np.testing.assert_allclose(means @ means.T, opt.gram_means(), atol=1e-5)
        np.testing.assert_allclose(run["b"][-1], opt.b, atol=1e-5)


def test_the_cross_entropy_optimum_is_a_simplex_etf_of_the_derived_scale():
    C, n, lam_H, lam_W = 6, 4, 0.02, 0.05
    opt = ufm_optimum(C, 7, n, lambda_H=lam_H, lambda_W=lam_W, lambda_b=0.1)
    rho_W = opt.classifier_norms[0]
    np.testing.assert_allclose(opt.gram_W(), rho_W ** 2 * ncedu.etf_gram(C), atol=1e-14)
    np.testing.assert_allclose(opt.class_means, math.sqrt(C * lam_W / lam_H) * opt.W, atol=1e-14)
    # the scale minimises phi(s) = log(1 + (C-1) exp(-C s/(C-1))) + kappa s: check by a fine grid search
    kappa = math.sqrt(C * lam_W * lam_H)
    s = np.linspace(0, 20, 2_000_001)
    phi = np.log1p((C - 1) * np.exp(-C * s / (C - 1))) + kappa * s
    s_best = s[np.argmin(phi)]
    assert rho_W * opt.feature_norms[0] == pytest.approx(s_best, abs=2e-5)
    assert opt.objective == pytest.approx(phi.min(), abs=1e-10)
    assert np.allclose(opt.b, 0) and opt.geometry == "simplex ETF"


def test_strong_weight_decay_makes_the_origin_the_optimum_and_descent_goes_there():
    settings = dict(num_classes=4, dim=3, per_class=5, lambda_H=0.6, lambda_W=0.6, lambda_b=0.1)  # kappa = 1.2
    opt = ufm_optimum(**settings)
    assert opt.geometry == "origin" and opt.objective == pytest.approx(math.log(4))
    assert not opt.W.any() and not opt.class_means.any()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # the collapsed means have no angles
        run = train_ufm(**settings, steps=3000, lr=0.5, num_records=2)
    assert np.abs(run["W"][-1]).max() < 1e-8 and run.objective[-1] == pytest.approx(math.log(4), rel=1e-12)


def test_mse_bias_regularisation_moves_the_rows_from_the_etf_to_the_orthogonal_frame():
    base = dict(num_classes=4, dim=4, per_class=5, loss="mse", lambda_H=2e-2, lambda_W=1e-2)
    free = ufm_optimum(**base, lambda_b=0.0)
    none = ufm_optimum(**base, bias=False)
    some = ufm_optimum(**base, lambda_b=0.5)
    cos = lambda G: G[0, 1] / math.sqrt(G[0, 0] * G[1, 1])
    assert cos(free.gram_W()) == pytest.approx(-1 / 3) and np.allclose(free.b, 0.25)
    assert cos(none.gram_W()) == pytest.approx(0.0, abs=1e-14) and none.geometry == "orthogonal frame"
    assert -1 / 3 < cos(some.gram_W()) < 0 and free.objective < some.objective < none.objective


def test_imbalanced_mse_without_bias_drops_the_smallest_classes():
    opt = ufm_optimum(5, 6, [20, 20, 10, 3, 1], loss="mse", lambda_H=0.2, lambda_W=0.1, bias=False)
    t = math.sqrt(54 * 0.1 * 0.2)                  # sqrt(N lambda_W lambda_H): classes with sqrt(n_c) <= t vanish
    assert opt.geometry == "orthogonal, with zero rows"
    assert np.array_equal(opt.classifier_norms > 0, np.sqrt([20, 20, 10, 3, 1]) > t)
    G = opt.gram_W()
    assert np.allclose(G - np.diag(np.diag(G)), 0)


def test_descent_reaches_nc1_below_1e_6_and_an_etf_gram_in_a_few_seconds():
    for C, p in [(10, 9), (10, 32), (4, 3)]:
        start = time.perf_counter()
        run = train_ufm(C, p, 20, lambda_H=2e-2, lambda_W=2e-2, lambda_b=2e-2, steps=5000, lr=4.0, seed=1)
        seconds = time.perf_counter() - start
        assert seconds < 10, f"C={C}, p={p} took {seconds:.1f} s"
        assert run["nc1"][-1] < 1e-6 and run["nc4"][-1] == 0 and run["train_acc"][-1] == 1
        means = run.centred_means()[-1]
        G = means @ means.T
        np.testing.assert_allclose(G / np.mean(np.diag(G)), ncedu.etf_gram(C), atol=1e-5)
        W = run["W"][-1]
        np.testing.assert_allclose(W @ W.T / np.mean(np.sum(W * W, axis=1)), ncedu.etf_gram(C), atol=1e-5)


def test_without_weight_decay_the_norms_grow_while_the_direction_collapses():
    run = train_ufm(4, 3, 5, lambda_H=0, lambda_W=0, lambda_b=0, steps=4000, lr=1.0, num_records=8)
    norms = np.linalg.norm(run["W"], axis=(1, 2))
    assert np.all(np.diff(norms[2:]) > 0)
    assert run["nc1"][-1] < run["nc1"][0] / 100 and run["nc3"][-1] < run["nc3"][0]
    with pytest.raises(ValueError, match="no minimiser"):
        ufm_optimum(4, 3, 5, lambda_H=0, lambda_W=0)


# ----------------------------------------------------------------------------------------------
# The record
# ----------------------------------------------------------------------------------------------


def test_the_history_has_the_fields_of_a_network_run_and_is_drawn_like_one(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = train_ufm(3, 4, [6, 3, 9], steps=200, samples_per_class=4, record_at=[1, 5, 50])
    assert isinstance(run, UFMHistory) and isinstance(run, ncedu.History)
    assert run["epoch"].tolist() == [1, 5, 50, 200] and run.class_counts.tolist() == [6, 3, 9]
    assert run.sample_labels.tolist() == [0] * 4 + [1] * 3 + [2] * 4
    np.testing.assert_allclose(run["sample_features"][-1][:4], run.features[:4], rtol=1e-6)
    # the sample mean, not the mean of the class means (imbalanced classes)
    np.testing.assert_allclose(run.global_mean()[-1], run.features.mean(axis=0), atol=1e-12)
    assert np.all(np.isnan(run["test_acc"])) and run.config["model"] == "ufm"
    scores = run.features @ run["W"][-1].T + run["b"][-1]
    assert run["train_acc"][-1] == np.mean(scores.argmax(axis=1) == run.labels)
    for fig in (ncedu.viz.plot_collapse(run), ncedu.viz.plot_projection(run), ncedu.viz.plot_gram(run)):
        plt.close(fig)
    for view in ("geometry", "decisions"):             # the scrubber's static player, as on the website
        assert "<img" in ncedu.widgets.static_scrubber(run, view=view).data
    loaded = ncedu.History.load(run.save(tmp_path / "ufm.npz"))
    assert np.array_equal(loaded["nc1"], run["nc1"]) and loaded.class_counts.tolist() == [6, 3, 9]


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(num_classes=1, dim=2), ValueError, "num_classes"),
    (dict(num_classes=2.0, dim=2), TypeError, "num_classes"),
    (dict(num_classes=3, dim=0), ValueError, "dim"),
    (dict(num_classes=3, dim=2, per_class=[4, 4]), ValueError, "per_class has 2 entries"),
    (dict(num_classes=3, dim=2, per_class=[4, 0, 4]), ValueError, r"per_class\[1\]"),
    (dict(num_classes=3, dim=2, per_class=0), ValueError, "per_class"),
    (dict(num_classes=3, dim=2, per_class=2.5), TypeError, "per_class"),
    (dict(num_classes=3, dim=2, per_class=[4, 2.5, 4]), TypeError, r"per_class\[1\]"),
    (dict(num_classes=3, dim=2, lambda_H=-1e-3), ValueError, "lambda_H"),
    (dict(num_classes=3, dim=2, lambda_W=-1e-3), ValueError, "lambda_W"),
    (dict(num_classes=3, dim=2, lambda_b=float("nan")), ValueError, "lambda_b"),
    (dict(num_classes=3, dim=2, loss="hinge"), ValueError, "loss"),
    (dict(num_classes=3, dim=2, bias=1), TypeError, "bias"),
])
def test_bad_settings_name_the_argument_in_both_functions(kwargs, error, match):
    with pytest.raises(error, match=match):
        train_ufm(**kwargs, steps=2)
    with pytest.raises(error, match=match):
        ufm_optimum(**kwargs)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(lr=0.0), ValueError, "lr"),
    (dict(lr="1"), TypeError, "lr"),
    (dict(momentum=1.0), ValueError, "momentum"),
    (dict(steps=0), ValueError, "steps"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=13), ValueError, "batch_size"),
    (dict(record_at=[0, 11]), ValueError, "record_at"),
    (dict(samples_per_class=0), ValueError, "samples_per_class"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(init=(np.zeros((12, 2)), np.zeros((3, 2)))), TypeError, "init"),
    (dict(init=(np.zeros((11, 2)), np.zeros((3, 2)), None)), ValueError, "init H"),
    (dict(init=(np.zeros((12, 2)), np.full((3, 2), np.inf), None)), ValueError, "init W"),
    (dict(init=(np.zeros((12, 2)), np.zeros((3, 2)), np.ones(3)), bias=False), ValueError, "init b"),
])
def test_bad_run_settings_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        train_ufm(3, 2, 4, **{"steps": 10, **kwargs})


def test_a_diverging_step_size_is_reported_at_the_iteration_with_what_to_try():
    with pytest.raises(ValueError, match=r"non-finite .* at iteration \d+ of 500.*lr=500.*smaller lr") as err:
        train_ufm(3, 2, 4, loss="mse", steps=500, lr=500.0)
    assert "momentum" in str(err.value)


def test_no_closed_form_where_none_is_known():
    with pytest.raises(ValueError, match="balanced"):
        ufm_optimum(3, 2, [4, 2, 4])
    with pytest.raises(ValueError, match="dim=2 is too small"):
        ufm_optimum(4, 2, 5)
    with pytest.raises(ValueError, match="balanced"):
        ufm_optimum(3, 3, [4, 2, 4], loss="mse")
    with pytest.raises(ValueError, match="dim=3 is too small"):
        ufm_optimum(4, 3, 5, loss="mse", bias=False, lambda_H=1e-2, lambda_W=1e-2)


def test_the_objective_checks_its_arrays():
    H, W, b, y = random_problem(0, [2, 2], 3)
    with pytest.raises(ValueError, match="W must have shape"):
        ufm_objective(H, W[:, :2], b, y)
    with pytest.raises(ValueError, match="b must have shape"):
        ufm_objective(H, W, b[:1], y)
    with pytest.raises(ValueError, match="labels"):
        ufm_objective(H, W, b, y[:3])
    with pytest.raises(ValueError, match="H contains NaN"):
        ufm_objective(np.full_like(H, np.nan), W, b, y)


# ---------------------------------------------------------------------------- the Hessian
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("at", ["origin", "random"])
def test_hessian_matches_torchs_autograd_hessian_of_the_independent_objective(loss, bias, at):
    from ncedu.theory import ufm_hessian

    rng = np.random.default_rng(3)
    C, n, p = 3, 2, 4
    y = ufm_labels(C, n)
    N = len(y)
    scale = 0.0 if at == "origin" else 0.7
    H, W, b = scale * rng.standard_normal((N, p)), scale * rng.standard_normal((C, p)), scale * rng.standard_normal(C)
    lam = dict(lam_H=0.3, lam_W=0.05, lam_b=0.02)
    got = ufm_hessian(H, W, b if bias else None, y, loss=loss, lambda_H=0.3, lambda_W=0.05, lambda_b=0.02)

    yt = torch.as_tensor(y)
    sizes = [N * p, C * p] + ([C] if bias else [])

    def f(x):
        parts = torch.split(x, sizes)
        return torch_objective(parts[0].reshape(N, p), parts[1].reshape(C, p), parts[2] if bias else None,
                               yt, loss, **lam)

    x0 = torch.as_tensor(np.concatenate([H.ravel(), W.ravel()] + ([b] if bias else [])))
    want = torch.autograd.functional.hessian(f, x0).numpy()
    assert got.shape == want.shape == (sum(sizes), sum(sizes))
    np.testing.assert_allclose(got, got.T, atol=0)
    np.testing.assert_allclose(got, want, atol=1e-7)


def test_hessian_at_the_origin_is_a_strict_saddle_exactly_below_kappa_one():
    from ncedu.theory import ufm_hessian

    C, n, p = 3, 2, 4
    y = ufm_labels(C, n)
    zeros = np.zeros((len(y), p)), np.zeros((C, p)), np.zeros(C)
    for lam in (0.1, 0.55, 0.6, 1.0):             # kappa = sqrt(C) lam: 0.17, 0.95, 1.04, 1.73
        smallest = np.linalg.eigvalsh(ufm_hessian(*zeros, y, lambda_H=lam, lambda_W=lam, lambda_b=lam))[0]
        assert (smallest < 0) == (math.sqrt(C) * lam < 1), (lam, smallest)


def test_hessian_refuses_a_step_that_is_not_positive():
    from ncedu.theory import ufm_hessian

    with pytest.raises(ValueError, match="step must be greater than 0"):
        ufm_hessian(np.zeros((2, 1)), np.zeros((2, 1)), np.zeros(2), [0, 1], step=0.0)
    with pytest.raises(TypeError, match="step must be a real number"):
        ufm_hessian(np.zeros((2, 1)), np.zeros((2, 1)), np.zeros(2), [0, 1], step="1e-5")
