"""The checker of the UFM chapter's coding exercise (ufm_objective): right answers written the ways a student
would pass, every named mistake is named, nothing leaks the expected values.

Every answer below is plain numpy, scipy or torch, written independently of ncedu.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from ncedu.exercises import EXERCISES, check
from ncedu.exercises.ufm import exercises

NAME = "ufm_objective"


def _quiet(fn):
    return check(NAME, fn, quiet=True)


def _penalty(H, W, b, lambda_H, lambda_W, lambda_b):
    return lambda_W / 2 * np.sum(W ** 2) + lambda_H / (2 * len(H)) * np.sum(H ** 2) + lambda_b / 2 * np.sum(b ** 2)


# ----------------------------------------------------------------------------------------------
# Right answers
# ----------------------------------------------------------------------------------------------


def good_numpy(H, W, b, y, lambda_H, lambda_W, lambda_b):
    Z = H @ W.T + b
    m = Z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(Z - m).sum(axis=1))
    return np.mean(lse - Z[np.arange(len(y)), y]) + _penalty(H, W, b, lambda_H, lambda_W, lambda_b)


def good_scipy(H, W, b, y, lambda_H, lambda_W, lambda_b):
    from scipy.special import log_softmax

    logp = log_softmax(H @ W.T + b, axis=1)
    N = len(y)
    return (-logp[np.arange(N), y].mean() + 0.5 * lambda_W * np.linalg.norm(W) ** 2
            + 0.5 * lambda_H / N * np.linalg.norm(H) ** 2 + 0.5 * lambda_b * np.linalg.norm(b) ** 2)


def good_torch(H, W, b, y, lambda_H, lambda_W, lambda_b):
    Ht, Wt, bt = (torch.from_numpy(a) for a in (H, W, b))
    loss = torch.nn.functional.cross_entropy(Ht @ Wt.T + bt, torch.from_numpy(y))
    return loss + lambda_W / 2 * Wt.pow(2).sum() + lambda_H / (2 * len(y)) * Ht.pow(2).sum() + lambda_b / 2 * bt.pow(2).sum()


def good_loop(H, W, b, y, lambda_H, lambda_W, lambda_b):
    # one sample at a time with math, the decays per sample: (1/N) sum_i [loss_i + (lambda_H/2) ||h_i||^2]
    total = 0.0
    for h, c in zip(H, y):
        z = [float(w @ h) + float(bc) for w, bc in zip(W, b)]
        top = max(z)
        total += top + math.log(sum(math.exp(v - top) for v in z)) - z[c] + lambda_H / 2 * float(h @ h)
    return total / len(y) + lambda_W / 2 * float((W * W).sum()) + lambda_b / 2 * float(b @ b)


def good_logaddexp(H, W, b, y, lambda_H, lambda_W, lambda_b):
    Z = H @ W.T + b
    lse = np.logaddexp.reduce(Z, axis=1)
    return float(np.mean(lse - np.take_along_axis(Z, y[:, None], axis=1)[:, 0])) + float(
        _penalty(H, W, b, lambda_H, lambda_W, lambda_b))


@pytest.mark.parametrize("answer", [good_numpy, good_scipy, good_torch, good_loop, good_logaddexp],
                         ids=lambda f: f.__name__)
def test_right_answers_pass(answer):
    r = _quiet(answer)
    assert r.status == "passed", r.message
    assert r.cases_passed == r.cases_total >= 7 and r.mistake is None


def test_the_exercise_is_registered_once_under_its_name():
    assert NAME in EXERCISES and [ex.name for ex in exercises()] == [NAME]


def test_the_reference_is_the_objective_written_with_torch_autograd_free_losses():
    # an independent reference on every hidden case: torch's cross-entropy in float64
    ex = EXERCISES[NAME]
    for case in ex.cases():
        assert ex.reference(case) == pytest.approx(float(good_torch(*case.args)), rel=1e-12)


def test_the_hidden_cases_cover_what_the_exercise_is_about():
    cases = EXERCISES[NAME].cases()
    Cs = {c.args[1].shape[0] for c in cases}
    assert {2, 10} <= Cs
    assert any(c.args[1].shape[0] == c.args[1].shape[1] for c in cases)                 # C = p
    assert all(len({c.args[4], c.args[5], c.args[6]}) == 3 for c in cases)              # three different decays
    assert all(np.abs(c.args[2]).max() > 0.1 for c in cases)                              # a bias of its own
    scores = [np.abs(c.args[0] @ c.args[1].T + c.args[2]).max() for c in cases]
    assert max(scores[:5]) < 50 and min(scores[5:]) > 700                                 # exp overflows on the last
    spread = cases[5].args[0] @ cases[5].args[1].T + cases[5].args[2]
    assert spread.max(axis=1).min() < -745 and spread.max() > 710                          # rows far apart
    far = cases[6].args[0] @ cases[6].args[1].T + cases[6].args[2]
    own = far[np.arange(len(cases[6].args[3])), cases[6].args[3]]
    assert np.min(own - far.max(axis=1)) < -745                                           # p_y underflows


# ----------------------------------------------------------------------------------------------
# Mistakes, as a student would make them
# ----------------------------------------------------------------------------------------------


def _ce(H, W, b, y):
    return good_numpy(H, W, b, y, 0.0, 0.0, 0.0)


def zhu_normalisation(H, W, b, y, lambda_H, lambda_W, lambda_b):
    return _ce(H, W, b, y) + lambda_W / 2 * np.sum(W ** 2) + lambda_H / 2 * np.sum(H ** 2) + lambda_b / 2 * np.sum(b ** 2)


def summed(H, W, b, y, lambda_H, lambda_W, lambda_b):
    return len(y) * _ce(H, W, b, y) + _penalty(H, W, b, lambda_H, lambda_W, lambda_b)


def over_entries(H, W, b, y, lambda_H, lambda_W, lambda_b):
    Z = H @ W.T + b
    logp = Z - Z.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    Y = np.eye(W.shape[0])[y]
    return -np.mean(Y * logp) + _penalty(H, W, b, lambda_H, lambda_W, lambda_b)


def no_half(H, W, b, y, lambda_H, lambda_W, lambda_b):
    return _ce(H, W, b, y) + 2 * _penalty(H, W, b, lambda_H, lambda_W, lambda_b)


def not_squared(H, W, b, y, lambda_H, lambda_W, lambda_b):
    return (_ce(H, W, b, y) + lambda_W / 2 * np.linalg.norm(W) + lambda_H / (2 * len(y)) * np.linalg.norm(H)
            + lambda_b / 2 * np.linalg.norm(b))


def bias_left_out(H, W, b, y, lambda_H, lambda_W, lambda_b):
    return _ce(H, W, np.zeros_like(b), y) + _penalty(H, W, b, lambda_H, lambda_W, lambda_b)


def no_bias_penalty(H, W, b, y, lambda_H, lambda_W, lambda_b):
    return _ce(H, W, b, y) + _penalty(H, W, b, lambda_H, lambda_W, 0.0)


def swapped(H, W, b, y, lambda_H, lambda_W, lambda_b):
    return _ce(H, W, b, y) + _penalty(H, W, b, lambda_W, lambda_H, lambda_b)


def data_only(H, W, b, y, lambda_H, lambda_W, lambda_b):
    return _ce(H, W, b, y)


def over_samples(H, W, b, y, lambda_H, lambda_W, lambda_b):
    from scipy.special import log_softmax

    logp = log_softmax(H @ W.T + b, axis=0)
    return -logp[np.arange(len(y)), y].mean() + _penalty(H, W, b, lambda_H, lambda_W, lambda_b)


def not_negated(H, W, b, y, lambda_H, lambda_W, lambda_b):
    return -_ce(H, W, b, y) + _penalty(H, W, b, lambda_H, lambda_W, lambda_b)


def transposed(H, W, b, y, lambda_H, lambda_W, lambda_b):
    Z = H @ W + b                                # fails where C != p
    m = Z.max(axis=1, keepdims=True)
    return np.mean(m[:, 0] + np.log(np.exp(Z - m).sum(axis=1)) - Z[np.arange(len(y)), y]) + _penalty(
        H, W, b, lambda_H, lambda_W, lambda_b)


def naive(H, W, b, y, lambda_H, lambda_W, lambda_b):
    Z = H @ W.T + b
    return np.mean(np.log(np.exp(Z).sum(axis=1)) - Z[np.arange(len(y)), y]) + _penalty(H, W, b, lambda_H, lambda_W, lambda_b)


def naive_softmax(H, W, b, y, lambda_H, lambda_W, lambda_b):
    E = np.exp(H @ W.T + b)
    P = E / E.sum(axis=1, keepdims=True)
    return -np.log(P[np.arange(len(y)), y]).mean() + _penalty(H, W, b, lambda_H, lambda_W, lambda_b)


def global_max(H, W, b, y, lambda_H, lambda_W, lambda_b):
    Z = H @ W.T + b
    m = Z.max()
    return np.mean(m + np.log(np.exp(Z - m).sum(axis=1)) - Z[np.arange(len(y)), y]) + _penalty(
        H, W, b, lambda_H, lambda_W, lambda_b)


def log_of_softmax(H, W, b, y, lambda_H, lambda_W, lambda_b):
    Z = H @ W.T + b
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    P = E / E.sum(axis=1, keepdims=True)
    return -np.log(P[np.arange(len(y)), y]).mean() + _penalty(H, W, b, lambda_H, lambda_W, lambda_b)


def per_sample(H, W, b, y, lambda_H, lambda_W, lambda_b):
    Z = H @ W.T + b
    m = Z.max(axis=1, keepdims=True)
    return m[:, 0] + np.log(np.exp(Z - m).sum(axis=1)) - Z[np.arange(len(y)), y]


def matrix(H, W, b, y, lambda_H, lambda_W, lambda_b):
    return H @ W.T + b


def negative(H, W, b, y, lambda_H, lambda_W, lambda_b):
    return -1.0 - good_numpy(H, W, b, y, lambda_H, lambda_W, lambda_b)


MISTAKES = [
    (zhu_normalisation, "ufm_feature_decay_not_per_sample"),
    (summed, "ufm_loss_summed_not_averaged"),
    (over_entries, "ufm_loss_averaged_over_entries"),
    (no_half, "ufm_penalties_without_half"),
    (not_squared, "ufm_norms_not_squared"),
    (bias_left_out, "ufm_scores_without_bias"),
    (no_bias_penalty, "ufm_no_bias_penalty"),
    (swapped, "ufm_decays_swapped"),
    (data_only, "ufm_data_term_only"),
    (over_samples, "ufm_softmax_over_samples"),
    (not_negated, "ufm_log_likelihood_not_negated"),
    (transposed, "ufm_W_transposed"),
    (naive, "ufm_logsumexp_overflow"),
    (naive_softmax, "ufm_logsumexp_overflow"),
    (global_max, "ufm_logsumexp_global_max"),
    (log_of_softmax, "ufm_log_of_softmax_underflow"),
    (per_sample, "ufm_returned_per_sample_losses"),
    (matrix, "ufm_returned_matrix"),
    (negative, "negative_value"),
]


@pytest.mark.parametrize("answer,code", MISTAKES, ids=[f"{a.__name__}-{c}" for a, c in MISTAKES])
def test_each_named_mistake_is_named(answer, code):
    r = _quiet(answer)
    assert r.status in ("failed", "error"), r.message
    assert r.mistake == code, r.message


def test_the_numerical_mistakes_pass_the_moderate_cases_first():
    # an unstable log-sum-exp is the right formula: it must be caught where it breaks, not earlier
    for answer in (naive, global_max, log_of_softmax):
        r = _quiet(answer)
        assert r.cases_passed >= 5, r.message


def test_the_transposed_classifier_is_named_when_it_runs_and_when_it_raises():
    ex = EXERCISES[NAME]
    r = _quiet(transposed)
    assert r.status == "error" and "H @ W.T" in r.message        # case 1 has C != p: the matmul raises
    square = next(c for c in ex.cases() if c.args[1].shape[0] == c.args[1].shape[1])
    variant = next(m for m in ex.variants if m.code == "ufm_W_transposed")
    assert variant.compute(square) == pytest.approx(float(transposed(*square.args)), rel=1e-12)


def test_every_advertised_mistake_is_tested_here():
    assert set(EXERCISES[NAME].mistakes) == {code for _, code in MISTAKES}


def test_a_stub_is_not_attempted_and_an_exception_is_reported_with_shapes():
    def stub(H, W, b, y, lambda_H, lambda_W, lambda_b):
        raise NotImplementedError

    assert _quiet(stub).status == "not attempted"

    def broken(H, W, b, y, lambda_H, lambda_W, lambda_b):
        return float(np.linalg.inv(W))

    r = _quiet(broken)
    assert r.status == "error" and "H (12, 5)" in r.message and "lambda_H=" in r.message


# ----------------------------------------------------------------------------------------------
# Nothing leaks
# ----------------------------------------------------------------------------------------------

_FLOAT = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def test_printed_verdicts_never_contain_reference_numbers(capsys):
    ex = EXERCISES[NAME]
    for answer in [good_numpy] + [a for a, _ in MISTAKES]:
        check(NAME, answer)
    out = capsys.readouterr().out
    settings = {f"{v:g}" for c in ex.cases() for v in c.args[4:]}              # the decays are inputs, shown
    decimals = [t for t in _FLOAT.findall(out) if ("." in t or "e" in t.lower()) and t != "1e-06"
                and t.lstrip("+-") not in settings]
    assert all(len(t.lstrip("+-0.").replace(".", "")) <= 3 for t in decimals), decimals
    for case in ex.cases():
        v = float(ex.reference(case))
        for digits in (2, 3, 4, 5):
            assert f"{v:.{digits}f}" not in out
