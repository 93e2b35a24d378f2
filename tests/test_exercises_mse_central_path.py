"""The checker of the central-path chapter's coding exercise (loss_decomposition): right answers written the ways a
student would pass, every named mistake is named, nothing leaks the expected values, and the hidden reference
agrees with ncedu's own (independently written) decomposition and with a brute-force minimisation.

Every answer below is plain numpy (or torch), written independently of ncedu.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import ncedu
from ncedu.exercises import EXERCISES, check
from ncedu.exercises.mse_central_path import exercises

NAME = "loss_decomposition"
torch.set_num_threads(1)


def _quiet(fn):
    return check(NAME, fn, quiet=True)


# ----------------------------------------------------------------------------------------------
# Right answers, as a student would write them
# ----------------------------------------------------------------------------------------------


def _setup(H, y):
    C, N = int(y.max()) + 1, len(y)
    X = np.hstack([H, np.ones((N, 1))])
    Y = np.eye(C)[y]
    return C, N, X, Y


def _loss(X, Y, V, lam):
    return 0.5 * np.mean(np.sum((X @ V.T - Y) ** 2, axis=1)) + 0.5 * lam * np.sum(V ** 2)


def good_augmented(H, y, W, b, lam):
    # the bias as an extra weight on a constant feature; normal equations V (S + lam I) = Y^T X / N
    C, N, X, Y = _setup(H, y)
    V_ls = np.linalg.solve(X.T @ X / N + lam * np.eye(X.shape[1]), X.T @ Y / N).T
    means = np.stack([X[y == c].mean(axis=0) for c in range(C)])
    Z = X - means[y]
    nc1 = 0.5 * np.trace(V_ls @ (Z.T @ Z / N + lam * np.eye(X.shape[1])) @ V_ls.T)
    nc23 = 0.5 / C * np.sum((V_ls @ means.T - np.eye(C)) ** 2)
    V = np.hstack([W, b[:, None]])
    perp = _loss(X, Y, V, lam) - _loss(X, Y, V_ls, lam)
    return np.array([nc1, nc23, perp])


def good_lstsq_stacked(H, y, W, b, lam):
    # ridge as least squares with sqrt(2 N lam) I appended; L_perp as the Hessian-weighted quadratic form
    C, N, X, Y = _setup(H, y)
    d = X.shape[1]
    A = np.vstack([X, np.sqrt(N * lam) * np.eye(d)])
    T = np.vstack([Y, np.zeros((d, C))])
    V_ls = np.linalg.lstsq(A, T, rcond=None)[0].T
    mu = np.stack([H[y == c].mean(axis=0) for c in range(C)])
    R = H - mu[y]
    W_ls, b_ls = V_ls[:, :-1], V_ls[:, -1]
    nc1 = 0.5 * np.sum((R @ W_ls.T) ** 2) / N + 0.5 * lam * (np.sum(W_ls ** 2) + np.sum(b_ls ** 2))
    nc23 = sum(np.sum((W_ls @ mu[c] + b_ls - np.eye(C)[c]) ** 2) for c in range(C)) / (2 * C)
    D = np.hstack([W, b[:, None]]) - V_ls
    perp = 0.5 * np.trace(D @ (X.T @ X / N + lam * np.eye(d)) @ D.T)
    return [float(nc1), float(nc23), float(perp)]


def good_centred(H, y, W, b, lam):
    # eliminate the bias first: c = W mu_G + b is fitted to the class frequencies with its own shrinkage
    C, N = int(y.max()) + 1, len(y)
    mu_G = H.mean(axis=0)
    Hc = H - mu_G
    Y = np.eye(C)[y]
    k = lam / (1 + lam)
    pi = Y.mean(axis=0)
    A = Hc.T @ Hc / N + lam * np.eye(H.shape[1]) + k * np.outer(mu_G, mu_G)
    rhs = Y.T @ Hc / N + k * np.outer(pi, mu_G)
    W_ls = np.linalg.solve(A, rhs.T).T
    b_ls = (pi - W_ls @ mu_G) / (1 + lam)

    def L(W_, b_):
        return 0.5 * np.mean(np.sum((H @ W_.T + b_ - Y) ** 2, axis=1)) + 0.5 * lam * (np.sum(W_ ** 2) + b_ @ b_)

    mu = np.stack([H[y == c].mean(axis=0) for c in range(C)])
    S_W = (H - mu[y]).T @ (H - mu[y]) / N
    nc1 = 0.5 * np.trace(W_ls @ S_W @ W_ls.T) + 0.5 * lam * (np.sum(W_ls ** 2) + b_ls @ b_ls)
    nc23 = np.mean(np.sum((mu @ W_ls.T + b_ls - np.eye(C)) ** 2, axis=1)) / 2
    return np.array([nc1, nc23, L(W, b) - L(W_ls, b_ls)])


def good_torch(H, y, W, b, lam):
    Ht, yt = torch.from_numpy(H), torch.from_numpy(y)
    C, N = int(yt.max()) + 1, len(yt)
    X = torch.cat([Ht, torch.ones(N, 1, dtype=Ht.dtype)], 1)
    Y = torch.nn.functional.one_hot(yt, C).double()
    I = torch.eye(X.shape[1], dtype=Ht.dtype)
    V_ls = torch.linalg.solve(X.T @ X / N + lam * I, X.T @ Y / N).T
    means = torch.stack([X[yt == c].mean(0) for c in range(C)])
    Z = X - means[yt]
    nc1 = 0.5 * torch.trace(V_ls @ (Z.T @ Z / N + lam * I) @ V_ls.T)
    nc23 = 0.5 / C * ((V_ls @ means.T - torch.eye(C, dtype=Ht.dtype)) ** 2).sum()
    V = torch.cat([torch.from_numpy(W), torch.from_numpy(b)[:, None]], 1)
    D = V - V_ls
    perp = 0.5 * torch.trace(D @ (X.T @ X / N + lam * I) @ D.T)
    return torch.stack([nc1, nc23, perp])


GOOD = [good_augmented, good_lstsq_stacked, good_centred, good_torch]


@pytest.mark.parametrize("answer", GOOD, ids=lambda f: f.__name__)
def test_right_answers_pass(answer):
    r = _quiet(answer)
    assert r.status == "passed", r.message
    assert r.passed and r.mistake is None and r.cases_passed == r.cases_total >= 6


def test_the_exercise_is_registered_and_its_module_lists_it():
    assert NAME in EXERCISES and [ex.name for ex in exercises()] == [NAME]
    assert EXERCISES[NAME].signature.startswith("loss_decomposition(H, y, W, b, lam)")


# ----------------------------------------------------------------------------------------------
# The reference, checked against independent computations
# ----------------------------------------------------------------------------------------------


def test_the_hidden_reference_is_ncedus_decomposition_and_sums_to_the_loss():
    ex = EXERCISES[NAME]
    for case in ex.cases():
        H, y, W, b, lam = case.args
        expected = np.asarray(ex.reference(case))
        d = ncedu.theory.mse_decomposition(H, y, W, b, lambda_W=lam)
        assert np.allclose(expected, [d.nc1, d.nc2_3, d.perp], rtol=1e-7, atol=1e-12), case.note
        C, N, X, Y = _setup(H, y)
        assert np.isclose(expected.sum(), _loss(X, Y, np.hstack([W, b[:, None]]), lam), rtol=1e-9)


def test_the_hidden_minimiser_beats_random_perturbations():
    # brute force: L at the minimiser the reference uses is below L at nearby classifiers
    ex = EXERCISES[NAME]
    rng = np.random.default_rng(0)
    for case in ex.cases():
        H, y, W, b, lam = case.args
        C, N, X, Y = _setup(H, y)
        V_ls = np.linalg.solve(X.T @ X / N + lam * np.eye(X.shape[1]), X.T @ Y / N).T
        best = _loss(X, Y, V_ls, lam)
        assert np.isclose(best, _loss(X, Y, np.hstack([W, b[:, None]]), lam) - ex.reference(case)[2])
        for _ in range(20):
            assert _loss(X, Y, V_ls + 1e-3 * rng.standard_normal(V_ls.shape), lam) > best


def test_the_hidden_cases_expose_what_the_exercise_is_about():
    cases = EXERCISES[NAME].cases()
    assert any(c.dims["C"] == 2 for c in cases) and any(c.dims["C"] == 10 for c in cases)
    assert any(c.dims["N"] < c.dims["p"] for c in cases)
    assert max(np.linalg.norm(c.args[0].mean(0)) for c in cases) > 40
    for c in cases:
        assert len(set(np.bincount(c.args[1]))) == 1  # balanced
        assert np.any(np.diff(c.args[1]) < 0)  # labels not sorted by class
        assert EXERCISES[NAME].reference(c)[2] > 0  # the given classifier is off the central path


# ----------------------------------------------------------------------------------------------
# Named mistakes, as a student would make them
# ----------------------------------------------------------------------------------------------


def _parts(H, y, lam, *, decay=None, a=0.5, bias=True):
    C, N = int(y.max()) + 1, len(y)
    X = np.hstack([H, np.ones((N, 1))]) if bias else H
    Y = np.eye(C)[y]
    decay = np.full(X.shape[1], lam) if decay is None else decay
    V_ls = np.linalg.solve(X.T @ X / N + np.diag(decay) / (2 * a), X.T @ Y / N).T
    means = np.stack([X[y == c].mean(axis=0) for c in range(C)])
    return C, N, X, Y, V_ls, means


def bias_free(H, y, W, b, lam):
    # chapter 7's ridge form: no penalty on b anywhere
    p = H.shape[1]
    decay = np.r_[np.full(p, lam), 0.0]
    C, N, X, Y, V_ls, means = _parts(H, y, lam, decay=decay)
    Z = X - means[y]
    nc1 = 0.5 * np.trace(V_ls @ (Z.T @ Z / N + np.diag(decay)) @ V_ls.T)
    nc23 = 0.5 / C * np.sum((V_ls @ means.T - np.eye(C)) ** 2)

    def L(V):
        return 0.5 * np.mean(np.sum((X @ V.T - Y) ** 2, axis=1)) + 0.5 * np.sum((V ** 2) * decay)

    return [nc1, nc23, L(np.hstack([W, b[:, None]])) - L(V_ls)]


def over_entries(H, y, W, b, lam):
    # F.mse_loss's normalisation: the mean over the N C squared entries
    C, N, X, Y, V_ls, means = _parts(H, y, lam, a=1.0 / (int(y.max()) + 1))
    Z = X - means[y]
    nc1 = np.sum((Z @ V_ls.T) ** 2) / (N * C) + 0.5 * lam * np.sum(V_ls ** 2)
    nc23 = np.mean((V_ls @ means.T - np.eye(C)) ** 2)

    def L(V):
        return np.mean((X @ V.T - Y) ** 2) + 0.5 * lam * np.sum(V ** 2)

    return [nc1, nc23, L(np.hstack([W, b[:, None]])) - L(V_ls)]


def _good_with(H, y, W, b, lam, *, nc1_total=False, nc1_ridge=True, nc23_mean=True, perp_plain=False):
    C, N, X, Y, V_ls, means = _parts(H, y, lam)
    Z = X - (X.mean(axis=0) if nc1_total else means[y])
    nc1 = 0.5 * np.sum((Z @ V_ls.T) ** 2) / N + (0.5 * lam * np.sum(V_ls ** 2) if nc1_ridge else 0.0)
    nc23 = 0.5 * np.sum((V_ls @ means.T - np.eye(C)) ** 2) / (C if nc23_mean else 1)
    V = np.hstack([W, b[:, None]])
    perp = 0.5 * np.sum((V - V_ls) ** 2) if perp_plain else _loss(X, Y, V, lam) - _loss(X, Y, V_ls, lam)
    return np.array([nc1, nc23, perp])


def no_half_in_penalty(H, y, W, b, lam):
    return good_augmented(H, y, W, b, 2 * lam)  # lam ||W||^2 is (2 lam)/2 ||W||^2


def nc1_without_ridge(H, y, W, b, lam):
    return _good_with(H, y, W, b, lam, nc1_ridge=False)


def nc1_total_covariance(H, y, W, b, lam):
    return _good_with(H, y, W, b, lam, nc1_total=True)


def nc23_summed(H, y, W, b, lam):
    return _good_with(H, y, W, b, lam, nc23_mean=False)


def perp_plain(H, y, W, b, lam):
    return _good_with(H, y, W, b, lam, perp_plain=True)


def ignores_bias(H, y, W, b, lam):
    C, N, X, Y, V_ls, means = _parts(H, y, lam, bias=False)
    Z = H - means[y]
    nc1 = 0.5 * np.trace(V_ls @ (Z.T @ Z / N + lam * np.eye(H.shape[1])) @ V_ls.T)
    nc23 = 0.5 / C * np.sum((V_ls @ means.T - np.eye(C)) ** 2)
    return [nc1, nc23, _loss(H, Y, W, lam) - _loss(H, Y, V_ls, lam)]


def wrong_order(H, y, W, b, lam):
    nc1, nc23, perp = good_augmented(H, y, W, b, lam)
    return [perp, nc1, nc23]


def total_only(H, y, W, b, lam):
    return float(np.sum(good_augmented(H, y, W, b, lam)))


def the_minimiser(H, y, W, b, lam):
    C, N, X, Y, V_ls, means = _parts(H, y, lam)
    return V_ls[:, :-1]


MISTAKES = [
    (bias_free, "decomp_bias_unpenalised"),
    (over_entries, "decomp_mean_over_entries"),
    (no_half_in_penalty, "decomp_ridge_factor"),
    (nc1_without_ridge, "decomp_nc1_without_ridge"),
    (nc1_total_covariance, "decomp_nc1_total_covariance"),
    (nc23_summed, "decomp_nc23_not_averaged"),
    (perp_plain, "decomp_perp_unweighted"),
    (ignores_bias, "decomp_ignores_bias"),
    (wrong_order, "decomp_wrong_order"),
    (total_only, "wrong_shape"),
    (the_minimiser, "wrong_shape"),
]


@pytest.mark.parametrize("answer, code", MISTAKES, ids=[f"{c}-{f.__name__}" for f, c in MISTAKES])
def test_each_named_mistake_is_named(answer, code):
    r = _quiet(answer)
    assert r.status in ("failed", "error"), r.message
    assert r.mistake == code, r.message
    assert not r.passed and r.cases_passed < r.cases_total


def test_the_shape_messages_say_what_the_wrong_shape_looks_like():
    assert "total loss" in _quiet(total_only).message
    assert "W_LS" in _quiet(the_minimiser).message


def test_every_advertised_mistake_code_is_exercised_here():
    tested = {code for _, code in MISTAKES}
    assert set(EXERCISES[NAME].mistakes) <= tested | {"negative_value"}, set(EXERCISES[NAME].mistakes) - tested


def test_a_negative_term_is_called_impossible():
    def negative_perp(H, y, W, b, lam):
        nc1, nc23, perp = good_augmented(H, y, W, b, lam)
        return [nc1, nc23, -3 * perp - 1.0]

    r = _quiet(negative_perp)
    assert r.mistake == "negative_value" and "non-negative" in r.message


def test_a_stub_is_not_attempted_and_none_asks_about_return():
    def stub(H, y, W, b, lam):
        raise NotImplementedError

    assert _quiet(stub).status == "not attempted"
    r = _quiet(lambda H, y, W, b, lam: None)
    assert r.status == "failed" and r.mistake == "returned_none"


# ----------------------------------------------------------------------------------------------
# Nothing leaks; the cases are the same every time
# ----------------------------------------------------------------------------------------------

_FLOAT = re.compile(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?")


def _significant_digits(token: str) -> int:
    mantissa = token.lower().split("e")[0].lstrip("+-").replace(".", "").lstrip("0")
    return len(mantissa)


def test_printed_verdicts_never_contain_the_expected_values(capsys):
    ex = EXERCISES[NAME]
    for answer in [good_augmented] + [a for a, _ in MISTAKES]:
        check(NAME, answer)
    out = capsys.readouterr().out
    for token in _FLOAT.findall(out):
        if "." in token or "e" in token.lower():
            assert _significant_digits(token) <= 3, (token, out)
    for case in ex.cases():
        for v in ex.reference(case):
            for digits in (4, 5, 6):
                assert f"{v:.{digits}g}" not in out


def test_hidden_cases_are_deterministic():
    first, second = EXERCISES[NAME].cases(), EXERCISES[NAME].cases()
    for a, b in zip(first, second):
        for x, z in zip(a.args, b.args):
            assert np.array_equal(x, z)
    assert _quiet(bias_free) == _quiet(bias_free)
