"""The exercise checkers: right answers pass, common mistakes are named, nothing leaks the expected values.

Every student answer below is written as a student would, in plain numpy, independently of ncedu.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch

from ncedu import History
from ncedu.exercises import EXERCISES, CheckResult, check, list_exercises
from ncedu.exercises.foundations import foundation_exercises
from ncedu.exercises.theory import theory_exercises

#: The exercises of chapters 1-9, tested here; each chapter beyond the paper (BEYOND_MODULES) tests its own
#: in tests/test_exercises_<chapter>.py.
BOOK_EXERCISES = {ex.name for ex in foundation_exercises() + theory_exercises()}

torch.set_num_threads(1)


# ----------------------------------------------------------------------------------------------
# Right answers, as a student would write them
# ----------------------------------------------------------------------------------------------


def _means(H, y):
    C = int(y.max()) + 1
    return np.stack([H[y == c].mean(axis=0) for c in range(C)])


def good_class_means(H, y):
    return _means(H, y)


def good_global_mean(H):
    return H.mean(axis=0)


def good_within(H, y):
    R = H - _means(H, y)[y]
    return R.T @ R / len(H)


def good_between(H, y):
    M = _means(H, y) - H.mean(axis=0)
    return M.T @ M / len(M)


def good_nc1(H, y):
    C = int(y.max()) + 1
    return float(np.trace(good_within(H, y) @ np.linalg.pinv(good_between(H, y))) / C)


def good_etf_gram(C):
    return np.full((C, C), -1.0 / (C - 1)) + (1.0 + 1.0 / (C - 1)) * np.eye(C)


def good_simplex_etf(C, p):
    # centred standard basis of R^C, normalised, then written in an orthonormal basis of its span
    E = np.eye(C) - 1.0 / C
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    _, _, Vt = np.linalg.svd(E)
    V = np.zeros((C, p))
    V[:, : C - 1] = E @ Vt[: C - 1].T
    return V


def good_nc2_equinorm(M):
    norms = np.linalg.norm(M, axis=1)
    return norms.std(ddof=1) / norms.mean()


def _cosines(M):
    U = M / np.linalg.norm(M, axis=1, keepdims=True)
    return U @ U.T


def good_nc2_equiangularity(M):
    i, j = np.triu_indices(len(M), k=1)
    return np.std(_cosines(M)[i, j], ddof=1)


def good_nc3(W, M):
    return np.sum((W / np.linalg.norm(W) - M / np.linalg.norm(M)) ** 2)


def _ncc(H, y):
    mu = _means(H, y)
    return np.argmin(((H[:, None, :] - mu[None]) ** 2).sum(-1), axis=1)


def good_nc4(H, y, W, b):
    return np.mean(np.argmax(H @ W.T + b, axis=1) != _ncc(H, y))


def good_terminal_phase_start(epochs, train_acc):
    hit = np.flatnonzero(train_acc == 1.0)
    return int(epochs[hit[0]]) if hit.size else None


def good_webb_lowe_weights(H, y):
    C = int(y.max()) + 1
    T = H - H.mean(axis=0)
    M = _means(H, y) - H.mean(axis=0)
    return M @ np.linalg.pinv(T.T @ T / len(H)) / C


def good_logistic_gradient(X, y, w):
    m = y * (X @ w)
    return -(y * np.exp(-np.logaddexp(0.0, m))) @ X / len(X)   # sigma(-m) = 1 / (1 + e^m), without overflow


def good_normalized_margin(X, y, w):
    return np.min(y * (X @ w)) / np.linalg.norm(w)


def _softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def good_cross_entropy_feature_gradient(H, y, W, b):
    P = _softmax(H @ W.T + b)
    P[np.arange(len(y)), y] -= 1.0
    return P @ W


def _naive_softmax_gradient(H, y, W, b, shift=False):
    """The formula with exp(Z) (shift False) or exp(Z - Z.max()) (shift "global"): right for moderate scores."""
    Z = H @ W.T + b
    with np.errstate(all="ignore"):
        E = np.exp(Z - (Z.max() if shift == "global" else 0.0))
        P = E / E.sum(axis=1, keepdims=True)
    P[np.arange(len(y)), y] -= 1.0
    return P @ W


GOOD = {
    "class_means": good_class_means,
    "global_mean": good_global_mean,
    "within_class_covariance": good_within,
    "between_class_covariance": good_between,
    "nc1": good_nc1,
    "etf_gram": good_etf_gram,
    "simplex_etf": good_simplex_etf,
    "nc2_equinorm": good_nc2_equinorm,
    "nc2_equiangularity": good_nc2_equiangularity,
    "nc3": good_nc3,
    "nc4": good_nc4,
    "terminal_phase_start": good_terminal_phase_start,
    "webb_lowe_weights": good_webb_lowe_weights,
    "logistic_gradient": good_logistic_gradient,
    "normalized_margin": good_normalized_margin,
    "cross_entropy_feature_gradient": good_cross_entropy_feature_gradient,
}


def _quiet(name, fn):
    return check(name, fn, quiet=True)


def test_every_exercise_has_a_reference_solution_here():
    assert set(GOOD) == BOOK_EXERCISES


@pytest.mark.parametrize("name", sorted(GOOD))
def test_reference_solution_passes_its_checker(name):
    r = _quiet(name, GOOD[name])
    assert r.status == "passed", r.message
    assert r.passed and r.mistake is None
    assert r.cases_passed == r.cases_total >= 5


def test_other_correct_formulations_pass():
    # a loop over samples, a pinv for Hermitian matrices, torch tensors and 0-d arrays as returns
    def within_loop(H, y):
        mu = _means(H, y)
        S = np.zeros((H.shape[1],) * 2)
        for h, c in zip(H, y):
            S += np.outer(h - mu[c], h - mu[c])
        return S / len(H)

    def nc1_hermitian(H, y):
        C = int(y.max()) + 1
        return np.trace(good_within(H, y) @ np.linalg.pinv(good_between(H, y), hermitian=True)) / C

    def nc3_torch(W, M):
        W, M = torch.from_numpy(W), torch.from_numpy(M)
        return ((W / W.norm() - M / M.norm()) ** 2).sum()

    def global_mean_with_labels(H, y):
        return torch.tensor(H.mean(0), requires_grad=True)

    def etf_rotated(C, p):
        Q, _ = np.linalg.qr(np.random.default_rng().standard_normal((p, p)))
        return good_simplex_etf(C, p) @ Q

    assert _quiet("within_class_covariance", within_loop).passed
    assert _quiet("nc1", nc1_hermitian).passed
    assert _quiet("nc3", nc3_torch).passed
    assert _quiet("global_mean", global_mean_with_labels).passed
    assert _quiet("simplex_etf", etf_rotated).passed
    assert _quiet("nc4", lambda *a: np.array([good_nc4(*a)])).passed
    assert _quiet("class_means", lambda H, y: _means(H, y).tolist()).passed


def test_other_correct_answers_to_the_theory_exercises_pass():
    # Proposition 1 as the least-squares problem it solves, with a bias column; the library's own
    # classifier; pinv for Hermitian matrices and in torch; loops over samples for the gradients
    from ncedu import theory

    def webb_lowe_lstsq(H, y):
        A = np.c_[H, np.ones(len(H))]
        return np.linalg.lstsq(A, np.eye(int(y.max()) + 1)[y], rcond=None)[0][:-1].T

    def webb_lowe_torch(H, y):
        Ht, T = torch.from_numpy(H), torch.from_numpy(H - H.mean(0))
        M = torch.from_numpy(_means(H, y)) - Ht.mean(0)
        return M @ torch.linalg.pinv(T.T @ T / len(H), hermitian=True) / M.shape[0]

    def logistic_loop(X, y, w):  # sigma(-m) in the branch that never exponentiates a large positive number
        g = np.zeros_like(w)
        for x, label in zip(X, y):
            m = label * x @ w
            g -= label * x * (np.exp(-m) / (1 + np.exp(-m)) if m >= 0 else 1 / (1 + np.exp(m)))
        return g / len(X)

    def logistic_autograd(X, y, w):
        wt = torch.tensor(w, requires_grad=True)
        torch.nn.functional.softplus(-torch.from_numpy(y) * (torch.from_numpy(X) @ wt)).mean().backward()
        return wt.grad

    def ce_autograd(H, y, W, b):
        Ht = torch.tensor(H, requires_grad=True)
        loss = torch.nn.functional.cross_entropy(Ht @ torch.from_numpy(W).T + torch.from_numpy(b),
                                                 torch.from_numpy(y), reduction="sum")
        loss.backward()
        return Ht.grad

    def ce_logsumexp(H, y, W, b):  # stable by log-sum-exp instead of the max-subtraction
        Z = H @ W.T + b
        m = Z.max(axis=1, keepdims=True)
        P = np.exp(Z - (m + np.log(np.exp(Z - m).sum(axis=1, keepdims=True))))
        return (P - np.eye(len(b))[y]) @ W

    def ce_per_sample_loop(H, y, W, b):  # the pull-push form of the proposition, one sample at a time
        rows = []
        for h, c in zip(H, y):
            z = W @ h + b
            p = np.exp(z - z.max())
            p /= p.sum()
            rows.append(-(1 - p[c]) * W[c] + sum(p[k] * W[k] for k in range(len(b)) if k != c))
        return np.array(rows)

    assert _quiet("webb_lowe_weights", webb_lowe_lstsq).passed
    assert _quiet("webb_lowe_weights", lambda H, y: theory.webb_lowe_classifier(H, y)[0]).passed
    assert _quiet("webb_lowe_weights", webb_lowe_torch).passed
    assert _quiet("logistic_gradient", logistic_loop).passed
    assert _quiet("logistic_gradient", logistic_autograd).passed
    assert _quiet("normalized_margin", lambda X, y, w: theory.margin(X, y, w)).passed
    assert _quiet("normalized_margin", lambda X, y, w: [good_normalized_margin(X, y, w)]).passed
    assert _quiet("cross_entropy_feature_gradient", ce_autograd).passed
    assert _quiet("cross_entropy_feature_gradient", ce_logsumexp).passed
    assert _quiet("cross_entropy_feature_gradient", ce_per_sample_loop).passed


def test_the_theory_cases_cover_what_their_exercises_are_about():
    wl = EXERCISES["webb_lowe_weights"].cases()
    for c in wl:  # balanced, as Proposition 1 assumes; labels not sorted
        assert len(set(np.bincount(c.args[1]))) == 1 and np.any(np.diff(c.args[1]) < 0)
    ranks = [np.linalg.matrix_rank(np.cov(c.args[0].T, bias=True)) for c in wl]
    assert any(r < c.dims["p"] for r, c in zip(ranks, wl)) and any(r == c.dims["p"] for r, c in zip(ranks, wl))
    margins = [good_normalized_margin(*c.args) for c in EXERCISES["normalized_margin"].cases()]
    assert min(margins) < 0 < max(margins)
    largest = []
    for c in EXERCISES["logistic_gradient"].cases():
        X, y, w = c.args
        assert set(np.unique(y)) == {-1.0, 1.0}
        largest.append(np.abs(X @ w).max())
    moderate = [c for c, m in zip(EXERCISES["logistic_gradient"].cases(), largest) if m < 40]
    assert len(moderate) >= 6 and all(c.args[0].shape == n.args[0].shape
                                      for c, n in zip(moderate, EXERCISES["normalized_margin"].cases()))
    # the promised very large margins, of both signs (np.exp overflows float64 beyond about 709)
    margins = np.concatenate([y * (X @ w) for X, y, w in (c.args for c in EXERCISES["logistic_gradient"].cases())])
    assert margins.max() >= 1e3 - 1e-9 and margins.min() <= -900 and max(largest) <= 1e3 + 1e-9
    assert any(np.all(c.args[1] * (c.args[0] @ c.args[2]) > 100) for c in EXERCISES["logistic_gradient"].cases())
    assert any(np.all(c.args[1] * (c.args[0] @ c.args[2]) < -100) for c in EXERCISES["logistic_gradient"].cases())
    ce = EXERCISES["cross_entropy_feature_gradient"].cases()
    scores = [c.args[0] @ c.args[2].T + c.args[3] for c in ce]
    for c, Z in zip(ce, scores):
        assert len(np.unique(c.args[1])) == len(c.args[3])
    # moderate scores first (so every mistake of the formula is named there), then scores of about
    # +-1e3: rows whose largest score overflows exp (> 709.8) and rows whose scores all underflow
    # (< -745.1), so that a softmax without the max-subtraction breaks on both sides
    large = [np.abs(Z).max() > 700 for Z in scores]
    assert not any(large[:5]) and all(np.abs(Z).max() < 40 for Z in scores[:5])
    assert any(large) and all(large[large.index(True):])
    assert max(Z.max() for Z in scores) > 900 and min(Z.min() for Z in scores) < -900
    assert any(np.any(Z.max(axis=1) > 710) and np.any(Z.max(axis=1) < -746) for Z in scores)


def test_a_softmax_without_the_max_subtraction_is_caught_on_large_scores_and_named():
    n_moderate = 5  # the cases before the large scores: there a naive softmax is right
    for shift, code, words in [(False, "ce_grad_softmax_overflow", "Subtract each row's largest score"),
                               ("global", "ce_grad_softmax_global_max", "each row's own largest score")]:
        r = _quiet("cross_entropy_feature_gradient", lambda H, y, W, b: _naive_softmax_gradient(H, y, W, b, shift))
        assert r.status == "failed" and r.mistake == code, r.message
        assert r.cases_passed >= n_moderate and words in r.message and "very large scores" in r.message
    r = _quiet("cross_entropy_feature_gradient", good_cross_entropy_feature_gradient)
    assert r.passed and r.cases_total > n_moderate

    def nan_everywhere_on_large_scores(H, y, W, b):  # broken in some other way: still told why
        G = good_cross_entropy_feature_gradient(H, y, W, b)
        return G * np.nan if np.abs(H @ W.T + b).max() > 700 else G

    r = _quiet("cross_entropy_feature_gradient", nan_everywhere_on_large_scores)
    assert r.mistake == "not_finite" and "very large" in r.message


def test_other_correct_terminal_phase_answers_pass():
    def loop_with_break(epochs, train_acc):
        for e, a in zip(epochs, train_acc):
            if a >= 1.0:
                return e  # a numpy integer
        return None

    def from_history(epochs, train_acc):  # the book's own History.terminal_phase_start
        h = History()
        for e, a in zip(epochs, train_acc):
            h.append(epoch=int(e), train_acc=float(a))
        return h.terminal_phase_start()

    def as_torch(epochs, train_acc):
        e = good_terminal_phase_start(epochs, train_acc)
        return None if e is None else torch.tensor([e])

    assert _quiet("terminal_phase_start", loop_with_break).passed
    assert _quiet("terminal_phase_start", from_history).passed
    assert _quiet("terminal_phase_start", as_torch).passed
    assert _quiet("terminal_phase_start", lambda e, a: (lambda t: None if t is None else float(t))(
        good_terminal_phase_start(e, a))).passed


# ----------------------------------------------------------------------------------------------
# Not attempted, errors, wrong types and shapes
# ----------------------------------------------------------------------------------------------


def stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_stub_is_reported_as_not_attempted(name, capsys):
    r = check(name, stub)
    out = capsys.readouterr().out
    assert r.status == "not attempted" and not r.passed
    assert r.cases_passed == 0 and r.mistake is None
    assert "not attempted" in out and "Traceback" not in out


def test_exception_is_reported_in_one_line_with_the_input_shapes(capsys):
    def broken(H, y):
        raise ValueError("something went wrong\nsecond line")

    r = check("nc1", broken)
    out = capsys.readouterr().out
    assert r.status == "error" and not r.passed
    assert "ValueError: something went wrong" in out and "second line" not in out
    assert "H (27, 2)" in out and "y (27,)" in out
    assert out.count("\n") == 1 and "Traceback" not in out


def test_not_implemented_on_a_later_case_is_an_error_not_a_stub():
    def partial(H, y):
        if y.max() == 1:
            raise NotImplementedError("two classes")
        return good_class_means(H, y)

    r = _quiet("class_means", partial)
    assert r.status == "error" and r.cases_passed == 2 and "two classes" in r.message


def test_result_is_not_displayed_twice_in_a_notebook(capsys):
    check("nc3", good_nc3)._ipython_display_()
    assert capsys.readouterr().out.count("nc3") == 1
    check("nc3", good_nc3, quiet=True)._ipython_display_()
    assert "CheckResult(name='nc3', status='passed'" in capsys.readouterr().out


def test_later_exception_counts_the_cases_passed_before_it():
    calls = []

    def flaky(H, y):
        calls.append(1)
        if len(calls) == 3:
            raise IndexError("index 7 is out of bounds")
        return good_class_means(H, y)

    r = _quiet("class_means", flaky)
    assert r.status == "error" and r.cases_passed == 2 and "IndexError" in r.message


def test_returning_none_asks_about_return():
    def forgot(H, y):
        _means(H, y)

    r = _quiet("class_means", forgot)
    assert r.status == "failed" and r.mistake == "returned_none" and "return" in r.message


def test_returning_a_tuple_is_named():
    r = _quiet("nc1", lambda H, y: (good_nc1(H, y), 0))
    assert r.mistake == "returned_tuple" and "tuple" in r.message


def test_returning_a_string_is_a_wrong_type():
    assert _quiet("nc3", lambda W, M: "0.1").mistake == "wrong_type"


@pytest.mark.parametrize(
    "name, answer, code, words",
    [
        ("class_means", lambda H, y: good_class_means(H, y).T, "transposed", "transposed"),
        ("class_means", lambda H, y: good_class_means(H, y)[:, 0], "wrong_shape", "expected shape (C, p)"),
        ("global_mean", lambda H: H.mean(axis=1), "wrong_axis", "axis=0"),
        ("global_mean", lambda H: H.mean(axis=0, keepdims=True), "wrong_shape", "keepdims"),
        ("within_class_covariance", lambda H, y: (lambda R: R @ R.T / len(H))(H - _means(H, y)[y]),
         "outer_product_transposed", "R R^T"),
        ("between_class_covariance", lambda H, y: (lambda M: M @ M.T / len(M))(_means(H, y) - H.mean(0)),
         "outer_product_transposed", "M M^T"),
        ("nc1", lambda H, y: good_within(H, y), "wrong_shape", "single number"),
    ("webb_lowe_weights", lambda H, y: np.linalg.pinv(np.cov(H.T, bias=True)), "wrong_shape", "one row per class"),
    ("logistic_gradient", lambda X, y, w: np.log1p(np.exp(-y * (X @ w))), "wrong_shape", "one entry per weight"),
    ("logistic_gradient", lambda X, y, w: -(y / (1 + np.exp(y * (X @ w))))[:, None] * X, "wrong_shape", "mean"),
    ("normalized_margin", lambda X, y, w: y * (X @ w) / np.linalg.norm(w), "wrong_shape", "smallest"),
    ("cross_entropy_feature_gradient", lambda H, y, W, b: (_softmax(H @ W.T + b) - np.eye(len(b))[y]).T @ H,
     "ce_grad_with_respect_to_W", "with respect to W"),
    ("cross_entropy_feature_gradient", lambda H, y, W, b: good_cross_entropy_feature_gradient(H, y, W, b).sum(0),
     "wrong_shape", "one row per sample"),
    ("cross_entropy_feature_gradient", lambda H, y, W, b: _softmax(H @ W.T + b) - np.eye(len(b))[y],
     "ce_grad_with_respect_to_logits", "chain rule"),
        ("nc2_equinorm", lambda M: np.linalg.norm(M, axis=1), "wrong_shape", "one value per class"),
        ("simplex_etf", lambda C, p: good_simplex_etf(C, p).T, "transposed", "transposed"),
    ],
)
def test_wrong_shapes_are_explained(name, answer, code, words):
    r = _quiet(name, answer)
    assert r.status == "failed" and r.mistake == code, r.message
    assert words in r.message


@pytest.mark.parametrize(
    "answer, code, words",
    [
        (lambda e, a: None, "returned_none", "not percentages"),
        (lambda e, a: bool(np.any(a == 1)), "wrong_type", "an int) or None"),
        (lambda e, a: str(good_terminal_phase_start(e, a)), "wrong_type", "an int) or None"),
        (lambda e, a: e[a == 1], "wrong_shape", "only the first epoch"),
        (lambda e, a: e[a == 1][:1] if np.any(a == 1) else np.array([], dtype=int), "tpt_not_none_when_never",
         "empty array"),
    ],
)
def test_terminal_phase_answers_of_the_wrong_kind_are_explained(answer, code, words):
    r = _quiet("terminal_phase_start", answer)
    assert r.status == "failed" and r.mistake == code, r.message
    assert words in r.message


def test_terminal_phase_cases_cover_never_dips_first_epoch_and_sparse_epochs():
    cases = EXERCISES["terminal_phase_start"].cases()
    expected = [good_terminal_phase_start(*c.args) for c in cases]
    assert None in expected and any(e is not None for e in expected)
    for c, e in zip(cases, expected):
        epochs, acc = c.args
        assert epochs.dtype == np.int64 and acc.dtype == np.float64 and np.all(np.diff(epochs) > 0)
        assert np.all((0 <= acc) & (acc <= 1))
    firsts = [c.args[0][0] for c, e in zip(cases, expected) if e is not None and e == c.args[0][0]]
    assert firsts, "a case where the terminal phase starts at the first measured epoch"
    dips = [c for c, e in zip(cases, expected) if e is not None and np.any(c.args[1][c.args[0] > e] < 1)]
    assert dips, "a case where training accuracy dips below 1.0 after reaching it"
    assert any(not np.array_equal(c.args[0], np.arange(1, len(c.args[0]) + 1)) for c in cases)
    near = [c for c in cases if np.any((c.args[1] > 0.99) & (c.args[1] < 1))]
    assert near, "accuracies just below 1.0, which a tolerance would count"


def test_not_finite_answer_is_named():
    r = _quiet("within_class_covariance", lambda H, y: good_within(H, y) * np.nan)
    assert r.mistake == "not_finite" and "NaN" in r.message


def test_not_a_function_is_an_error_and_none_is_not_attempted():
    r = _quiet("nc1", 0.5)
    assert r.status == "error" and r.mistake == "not_a_function"
    assert _quiet("nc1", None).status == "not attempted"


def test_unknown_exercise_name_suggests_the_close_one():
    with pytest.raises(ValueError, match="nc2_equinorm"):
        check("nc2_equinrom", good_nc2_equinorm)
    assert check("NC1", good_nc1, quiet=True).passed  # case and dashes are forgiven


def test_modifying_the_input_in_place_fails():
    def centre_in_place(H, y):
        mu_G = H.mean(axis=0)
        H -= mu_G
        return H.mean(axis=0) + mu_G

    r = _quiet("global_mean", centre_in_place)
    assert r.mistake == "modified_input" and "in place" in r.message


def test_float32_result_gets_a_precision_hint():
    r = _quiet("between_class_covariance", lambda H, y: torch.from_numpy(good_between(H, y)).float() * (1 + 1e-5))
    assert r.mistake == "low_precision" and "float64" in r.message


def test_generic_scale_and_sign_errors_are_recognised():
    assert _quiet("class_means", lambda H, y: -good_class_means(H, y)).mistake == "wrong_sign"
    assert _quiet("within_class_covariance", lambda H, y: 3 * good_within(H, y)).mistake == "wrong_scale"
    assert _quiet("within_class_covariance", lambda H, y: good_within(H, y) + 1e-3).mistake == "wrong_value"


@pytest.mark.parametrize(
    "name, answer, code",
    [
        ("nc1", lambda H, y: -good_nc1(H, y), "negative_value"),
        ("nc4", lambda H, y, W, b: 1.5, "not_a_fraction"),
        ("within_class_covariance", lambda H, y: -good_within(H, y), "not_positive_semidefinite"),
    ],
)
def test_impossible_values_are_named(name, answer, code):
    assert _quiet(name, answer).mistake == code


def test_non_symmetric_covariance_is_named():
    def lopsided(H, y):
        S = good_between(H, y)
        return S + np.triu(np.ones_like(S), 1)

    assert _quiet("between_class_covariance", lopsided).mistake == "not_symmetric"


def test_quiet_prints_nothing_and_the_result_is_a_dataclass(capsys):
    r = check("nc3", good_nc3, quiet=True)
    assert capsys.readouterr().out == ""
    assert isinstance(r, CheckResult) and r.name == "nc3"
    assert set(vars(r)) >= {"name", "status", "passed", "cases_passed", "cases_total", "message", "mistake"}


def test_list_exercises_prints_every_signature(capsys):
    list_exercises()
    out = capsys.readouterr().out
    for name, ex in EXERCISES.items():
        assert ex.signature in out and ex.signature.startswith(name + "(")
        assert ex.description


# ----------------------------------------------------------------------------------------------
# Common mistakes, each as a plausible wrong student answer
# ----------------------------------------------------------------------------------------------


def cov(X, n):
    return X.T @ X / n


def w_per_class(H, y, ddof, reduce):
    mu = _means(H, y)
    return reduce([cov(H[y == c] - mu[c], (y == c).sum() - ddof) for c in range(len(mu))], axis=0)


def nc1_from(Sw, Sb, C):
    return np.trace(Sw @ np.linalg.pinv(Sb)) / C


def nc1_top_eigenpairs(H, y, rtol=None):
    """NC1 inverting the C - 1 largest eigenpairs of Sigma_B, or (with ``rtol``) those above rtol x the largest."""
    C = int(y.max()) + 1
    lam, V = np.linalg.eigh(good_between(H, y))
    keep = lam > rtol * lam.max() if rtol is not None else np.arange(len(lam)) >= len(lam) - (C - 1)
    return np.trace(good_within(H, y) @ (V[:, keep] / lam[keep]) @ V[:, keep].T) / C


def sb_with(H, y, centre, n):
    M = _means(H, y) - centre
    return M.T @ M / n


def sb_weighted(H, y):
    M = _means(H, y) - H.mean(0)
    return sum(np.outer(m, m) * np.mean(y == c) for c, m in enumerate(M))


def _angle_pairs(M):
    i, j = np.triu_indices(len(M), k=1)
    return _cosines(M)[i, j]


def _nc4_parts(H, y, W, b):
    return np.argmax(H @ W.T + b, axis=1), _ncc(H, y)


MISTAKES = [
    # class means
    ("class_means", lambda H, y: _means(H, y) - H.mean(0), "class_means_centred"),
    ("class_means", lambda H, y: _means(H, y) * np.bincount(y)[:, None], "class_means_sums"),
    ("class_means", lambda H, y: np.stack([H[y == c].sum(0) for c in range(y.max() + 1)]) / len(H), "class_means_divided_by_N"),
    ("class_means", lambda H, y: np.stack([m.mean(0) for m in np.array_split(H, y.max() + 1)]),
     "class_means_assumes_sorted_labels"),
    ("class_means", lambda H, y: _means(H, y)[::-1], "class_means_wrong_order"),
    # global mean
    ("global_mean", lambda H, y: _means(H, y).mean(axis=0), "global_mean_of_class_means"),
    # within-class covariance
    ("within_class_covariance", lambda H, y: cov(H - H.mean(0), len(H)), "sigma_w_centred_at_global_mean"),
    ("within_class_covariance", lambda H, y: np.cov(H.T).reshape(H.shape[1], H.shape[1]), "sigma_w_centred_at_global_mean"),
    ("within_class_covariance", lambda H, y: good_within(H, y) * len(H) / (len(H) - 1), "sigma_w_divided_by_n_minus_1"),
    ("within_class_covariance", lambda H, y: good_within(H, y) * len(H), "sigma_w_missing_div_N"),
    ("within_class_covariance", lambda H, y: w_per_class(H, y, 0, np.mean), "sigma_w_per_class_average"),
    ("within_class_covariance", lambda H, y: w_per_class(H, y, 1, np.mean), "sigma_w_per_class_average_ddof1"),
    ("within_class_covariance", lambda H, y: w_per_class(H, y, 0, np.sum), "sigma_w_per_class_sum"),
    ("within_class_covariance", lambda H, y: cov(H, len(H)), "sigma_w_not_centred"),
    # between-class covariance
    ("between_class_covariance", lambda H, y: sb_with(H, y, 0.0, y.max() + 1), "sigma_b_not_centred"),
    ("between_class_covariance", sb_weighted, "sigma_b_class_frequency_weights"),
    ("between_class_covariance", lambda H, y: sb_with(H, y, _means(H, y).mean(0), y.max() + 1),
     "sigma_b_global_mean_of_class_means"),
    ("between_class_covariance", lambda H, y: np.cov(_means(H, y).T).reshape(H.shape[1], H.shape[1]), "sigma_b_np_cov_of_means"),
    ("between_class_covariance", lambda H, y: sb_with(H, y, H.mean(0), y.max()), "sigma_b_divided_by_C_minus_1"),
    ("between_class_covariance", lambda H, y: sb_with(H, y, H.mean(0), 1), "sigma_b_missing_div_C"),
    ("between_class_covariance", lambda H, y: cov(H - H.mean(0), len(H)), "sigma_b_total_covariance"),
    # NC1
    ("nc1", lambda H, y: good_nc1(H, y) * (y.max() + 1), "nc1_missing_div_C"),
    ("nc1", lambda H, y: nc1_from(cov(H - H.mean(0), len(H)), good_between(H, y), y.max() + 1),
     "nc1_sigma_w_centred_at_global_mean"),
    ("nc1", lambda H, y: np.trace(good_within(H, y)) / np.trace(good_between(H, y)), "nc1_trace_ratio"),
    ("nc1", lambda H, y: nc1_from(good_within(H, y), sb_with(H, y, _means(H, y).mean(0), y.max() + 1), y.max() + 1),
     "nc1_global_mean_of_class_means"),
    ("nc1", lambda H, y: nc1_from(good_within(H, y), sb_with(H, y, _means(H, y).mean(0), y.max() + 1), 1),
     "nc1_authors_notebook_convention"),
    ("nc1", lambda H, y: np.trace(good_within(H, y) @ np.linalg.inv(good_between(H, y))) / (y.max() + 1), "nc1_plain_inverse"),
    ("nc1", lambda H, y: nc1_from(good_within(H, y) * len(H) / (len(H) - 1), good_between(H, y), y.max() + 1),
     "nc1_sigma_w_divided_by_n_minus_1"),
    ("nc1", lambda H, y: nc1_from(good_within(H, y), sb_with(H, y, 0.0, y.max() + 1), y.max() + 1), "nc1_sigma_b_not_centred"),
    ("nc1", lambda H, y: nc1_from(good_within(H, y), sb_weighted(H, y), y.max() + 1), "nc1_sigma_b_class_frequency_weights"),
    ("nc1", lambda H, y: nc1_top_eigenpairs(H, y), "nc1_fixed_rank"),
    # simplex ETF Gram
    ("etf_gram", lambda C: (1 + 1 / C) * np.eye(C) - 1 / C, "etf_gram_wrong_offdiagonal"),
    ("etf_gram", lambda C: np.eye(C) - 1 / C, "etf_gram_not_unit_diagonal"),
    ("etf_gram", lambda C: np.where(np.eye(C) == 1, 2.0, -1 / (C - 1)), "etf_gram_not_unit_diagonal"),
    ("etf_gram", lambda C: np.full((C, C), -0.5) + 1.5 * np.eye(C), "etf_gram_wrong_offdiagonal"),
    # simplex ETF
    ("simplex_etf", lambda C, p: 2 * good_simplex_etf(C, p), "etf_rows_not_unit"),
    ("simplex_etf", lambda C, p: np.eye(C, p) if p >= C else good_simplex_etf(C, p) + 0.1 * np.eye(C, p), "etf_rows_not_unit"),
    ("simplex_etf", lambda C, p: (lambda V: V / np.linalg.norm(V, axis=1, keepdims=True))(good_simplex_etf(C, p) + np.eye(1, p)),
     "etf_not_centred"),
    # NC2
    ("nc2_equinorm", lambda M: np.linalg.norm(M, axis=1).std() / np.linalg.norm(M, axis=1).mean(), "std_biased"),
    ("nc2_equinorm", lambda M: good_nc2_equinorm(M - M.mean(0)), "means_recentred"),
    ("nc2_equinorm", lambda M: np.linalg.norm(M, axis=1).std(ddof=1), "equinorm_not_divided_by_mean"),
    ("nc2_equinorm", lambda M: 1 / good_nc2_equinorm(M), "equinorm_inverted"),
    ("nc2_equinorm", lambda M: (lambda n: n.std(ddof=1) / n.mean())((M**2).sum(1)), "equinorm_squared_norms"),
    ("nc2_equinorm", lambda M: (lambda n: n.std(ddof=1) / n.mean())(np.linalg.norm(M, axis=0)), "norms_over_wrong_axis"),
    ("nc2_equiangularity", lambda M: np.std(_angle_pairs(M)), "std_biased"),
    ("nc2_equiangularity", lambda M: np.std(_cosines(M), ddof=1), "cosines_include_diagonal"),
    ("nc2_equiangularity", lambda M: np.std(_cosines(M)[~np.eye(len(M), dtype=bool)], ddof=1), "pairs_counted_twice"),
    ("nc2_equiangularity", lambda M: np.std((M @ M.T)[np.triu_indices(len(M), 1)], ddof=1), "dot_products_not_cosines"),
    ("nc2_equiangularity", lambda M: good_nc2_equiangularity(M - M.mean(0)), "means_recentred"),
    ("nc2_equiangularity", lambda M: np.mean(np.abs(_angle_pairs(M) + 1 / (len(M) - 1))), "maxangle_instead_of_std"),
    ("nc2_equiangularity", lambda M: np.std(np.arccos(_angle_pairs(M)), ddof=1), "angles_not_cosines"),
    # NC3
    ("nc3", lambda W, M: np.linalg.norm(W / np.linalg.norm(W) - M / np.linalg.norm(M)), "nc3_not_squared"),
    ("nc3", lambda W, M: good_nc3(W.T, M), "nc3_W_transposed"),
    ("nc3", lambda W, M: np.sum((W - M) ** 2), "nc3_unnormalised"),
    ("nc3", lambda W, M: np.sum((W / np.linalg.norm(W, 2) - M / np.linalg.norm(M, 2)) ** 2), "nc3_wrong_norm"),
    ("nc3", lambda W, M: np.mean((W / np.linalg.norm(W) - M / np.linalg.norm(M)) ** 2), "nc3_mean_instead_of_sum"),
    ("nc3", lambda W, M: good_nc3(W / np.linalg.norm(W, axis=1, keepdims=True), M / np.linalg.norm(M, axis=1, keepdims=True)),
     "nc3_rows_normalised"),
    # NC4
    ("nc4", lambda H, y, W, b: np.mean(_ncc(H, y) != y), "nc4_against_labels"),
    ("nc4", lambda H, y, W, b: np.mean(_ncc(H, y) == y), "nc4_against_labels"),
    ("nc4", lambda H, y, W, b: np.mean(np.argmax(H @ W.T + b, 1) != y), "nc4_against_labels"),
    ("nc4", lambda H, y, W, b: np.mean(np.argmax(H @ W.T, 1) != _ncc(H, y)), "nc4_bias_ignored"),
    ("nc4", lambda H, y, W, b: 1 - good_nc4(H, y, W, b), "nc4_agreement_instead_of_mismatch"),
    ("nc4", lambda H, y, W, b: np.mean(np.argmax(H @ W.T, 1) == _ncc(H, y)), "nc4_agreement_and_bias_ignored"),
    ("nc4", lambda H, y, W, b: np.sum(np.not_equal(*_nc4_parts(H, y, W, b))), "nc4_count_not_fraction"),
    ("nc4", lambda H, y, W, b: 100 * good_nc4(H, y, W, b), "nc4_percentage"),
    ("nc4", lambda H, y, W, b: np.mean(np.argmax(H @ W.T + b, 1)
                                       != np.argmin(((H[:, None] - (_means(H, y) - H.mean(0))[None]) ** 2).sum(-1), 1)),
     "nc4_ncc_centred_means"),
    ("nc4", lambda H, y, W, b: np.mean(np.argmax(H @ W.T + b, 1) != np.argmax(H @ _means(H, y).T, 1)), "nc4_ncc_by_inner_product"),
    ("nc4", lambda H, y, W, b: np.mean(np.argmin(H @ W.T + b, 1) != _ncc(H, y)), "nc4_network_argmin"),
    # Proposition 1: the Webb-Lowe classifier
    ("webb_lowe_weights", lambda H, y: good_webb_lowe_weights(H, y) * (y.max() + 1), "wl_missing_div_C"),
    ("webb_lowe_weights", lambda H, y: good_webb_lowe_weights(H, y) * (y.max() + 1) / len(H), "wl_divided_by_N"),
    ("webb_lowe_weights", lambda H, y: (_means(H, y) - H.mean(0)) @ np.linalg.pinv(good_within(H, y)) / (y.max() + 1),
     "wl_uses_sigma_w"),
    ("webb_lowe_weights", lambda H, y: (_means(H, y) - H.mean(0)) @ np.linalg.pinv(good_between(H, y)) / (y.max() + 1),
     "wl_uses_sigma_b"),
    ("webb_lowe_weights", lambda H, y: (_means(H, y) - H.mean(0)) @ np.linalg.pinv(H.T @ H / len(H)) / (y.max() + 1),
     "wl_sigma_t_not_centred"),
    ("webb_lowe_weights", lambda H, y: (_means(H, y) - H.mean(0)) @ np.linalg.pinv(np.cov(H.T)) / (y.max() + 1),
     "wl_sigma_t_divided_by_n_minus_1"),
    ("webb_lowe_weights", lambda H, y: _means(H, y) @ np.linalg.pinv(np.cov(H.T, bias=True)) / (y.max() + 1),
     "wl_uncentred_means"),
    ("webb_lowe_weights", lambda H, y: (_means(H, y) - H.mean(0)) @ np.cov(H.T, bias=True) / (y.max() + 1),
     "wl_no_inverse"),
    ("webb_lowe_weights", lambda H, y: good_webb_lowe_weights(H, y).T, "transposed"),
    ("webb_lowe_weights", lambda H, y: (_means(H, y) - H.mean(0)) @ np.linalg.pinv(np.cov(H.T, bias=True), rcond=1e-40)
     / (y.max() + 1), "wl_plain_inverse"),
    # Proposition 2: the logistic loss and the margin
    ("logistic_gradient", lambda X, y, w: good_logistic_gradient(X, y, w) * len(X), "logistic_grad_sum_not_mean"),
    ("logistic_gradient", lambda X, y, w: (y / (1 + np.exp(y * (X @ w)))) @ X / len(X), "logistic_grad_ascent"),
    ("logistic_gradient", lambda X, y, w: -(y / (1 + np.exp(-y * (X @ w)))) @ X / len(X), "logistic_grad_wrong_sigmoid"),
    ("logistic_gradient", lambda X, y, w: -(1 / (1 + np.exp(y * (X @ w)))) @ X / len(X), "logistic_grad_missing_label"),
    ("logistic_gradient", lambda X, y, w: -(y / (1 + np.exp(X @ w))) @ X / len(X), "logistic_grad_margin_without_label"),
    ("logistic_gradient", lambda X, y, w: -(y * np.exp(-y * (X @ w))) @ X / len(X), "logistic_grad_exponential_loss"),
    ("logistic_gradient", lambda X, y, w: -(y / (1 + np.exp(y * (X @ w)))) @ X / len(X), "logistic_grad_overflow"),
    ("logistic_gradient", lambda X, y, w: -(y * np.exp(-y * (X @ w)) / (1 + np.exp(-y * (X @ w)))) @ X / len(X),
     "logistic_grad_overflow"),
    ("normalized_margin", lambda X, y, w: np.min(y * (X @ w)), "margin_not_normalised"),
    ("normalized_margin", lambda X, y, w: np.min(y * (X @ w)) / (w @ w), "margin_divided_by_squared_norm"),
    ("normalized_margin", lambda X, y, w: np.min(np.abs(X @ w)) / np.linalg.norm(w), "margin_ignores_labels"),
    ("normalized_margin", lambda X, y, w: np.min(X @ w) / np.linalg.norm(w), "margin_missing_labels"),
    ("normalized_margin", lambda X, y, w: np.mean(y * (X @ w)) / np.linalg.norm(w), "margin_mean_not_min"),
    ("normalized_margin", lambda X, y, w: np.argmin(y * (X @ w)), "margin_returned_index"),
    # chapter 9: the pull of cross-entropy on a feature
    ("cross_entropy_feature_gradient", lambda H, y, W, b: good_cross_entropy_feature_gradient(H, y, W, b) / len(H),
     "ce_grad_divided_by_N"),
    ("cross_entropy_feature_gradient", lambda H, y, W, b: -good_cross_entropy_feature_gradient(H, y, W, b),
     "ce_grad_wrong_sign"),
    ("cross_entropy_feature_gradient", lambda H, y, W, b: _softmax(H @ W.T + b) @ W, "ce_grad_missing_onehot"),
    ("cross_entropy_feature_gradient", lambda H, y, W, b: good_cross_entropy_feature_gradient(H, y, W, 0 * b),
     "ce_grad_ignores_bias"),
    ("cross_entropy_feature_gradient", lambda H, y, W, b: (H @ W.T + b - np.eye(len(b))[y]) @ W,
     "ce_grad_logits_not_softmax"),
    ("cross_entropy_feature_gradient", lambda H, y, W, b: (_softmax((H @ W.T + b).T).T - np.eye(len(b))[y]) @ W,
     "ce_grad_softmax_over_samples"),
    ("cross_entropy_feature_gradient", lambda H, y, W, b: good_cross_entropy_feature_gradient(H, y, W, b)
     + np.linalg.svd(W)[2][-1] * (W.shape[0] < W.shape[1]), "ce_grad_not_in_row_space"),
    ("cross_entropy_feature_gradient", lambda H, y, W, b: _naive_softmax_gradient(H, y, W, b, shift=False),
     "ce_grad_softmax_overflow"),
    ("cross_entropy_feature_gradient", lambda H, y, W, b: _naive_softmax_gradient(H, y, W, b, shift="global"),
     "ce_grad_softmax_global_max"),
    # start of the terminal phase
    ("terminal_phase_start", lambda e, a: int(np.argmax(a == 1)) if np.any(a == 1) else None, "tpt_index_not_epoch"),
    ("terminal_phase_start", lambda e, a: int(np.argmax(a == 1)) + 1 if np.any(a == 1) else None, "tpt_index_not_epoch"),
    ("terminal_phase_start", lambda e, a: int(e[a == 1][-1]) if np.any(a == 1) else None, "tpt_last_epoch_at_one"),
    ("terminal_phase_start", lambda e, a: next((int(e[i]) for i in range(len(a)) if np.all(a[i:] == 1)), None),
     "tpt_start_of_last_streak"),
    ("terminal_phase_start", lambda e, a: int(e[np.argmax(a == 1)]), "tpt_argmax_all_false"),
    ("terminal_phase_start", lambda e, a: int(e[np.argmax(a)]), "tpt_not_none_when_never"),
    ("terminal_phase_start", lambda e, a: good_terminal_phase_start(e, a) or -1, "tpt_not_none_when_never"),
    ("terminal_phase_start", lambda e, a: good_terminal_phase_start(e, a) or 0, "tpt_not_none_when_never"),
    ("terminal_phase_start", lambda e, a: good_terminal_phase_start(e, a) or float("nan"), "tpt_not_none_when_never"),
    ("terminal_phase_start", lambda e, a: good_terminal_phase_start(e, a) or int(e[-1]), "tpt_not_none_when_never"),
    ("terminal_phase_start", lambda e, a: next((int(x) for x, y in zip(e, a) if y > 0.99), None), "tpt_threshold_below_one"),
    ("terminal_phase_start", lambda e, a: next((int(x) for x, y in zip(e, a) if y >= 0.999), None),
     "tpt_threshold_below_one"),
    ("terminal_phase_start", lambda e, a: next((int(x) for x, y in zip(e[1:], a[1:]) if y == 1), None), "tpt_not_first"),
    ("terminal_phase_start", lambda e, a: (lambda t: None if t is None else t + 1)(good_terminal_phase_start(e, a)),
     "not_a_measured_epoch"),
]


@pytest.mark.parametrize("name, answer, code", MISTAKES, ids=[f"{n}-{c}-{i}" for i, (n, _, c) in enumerate(MISTAKES)])
def test_common_mistake_is_named(name, answer, code):
    r = _quiet(name, answer)
    assert r.status == "failed", r.message
    assert r.mistake == code, r.message
    assert not r.passed and r.cases_passed < r.cases_total


# codes tested by the shape, structure and error tests in this file rather than in MISTAKES
OTHER_TESTED_CODES = {
    "transposed", "wrong_shape", "wrong_axis", "outer_product_transposed", "not_symmetric",
    "etf_gram_offdiagonal_not_constant", "etf_not_equiangular", "nc1_plain_inverse",
    "ce_grad_with_respect_to_W", "ce_grad_with_respect_to_logits",
}


def test_every_advertised_mistake_code_is_exercised_by_a_test():
    tested = {code for _, _, code in MISTAKES} | OTHER_TESTED_CODES
    for name in BOOK_EXERCISES:
        ex = EXERCISES[name]
        assert set(ex.mistakes) <= tested, (name, set(ex.mistakes) - tested)


def test_nc1_plain_inverse_that_raises_linalg_error_gets_the_hint():
    def singular(H, y):
        raise np.linalg.LinAlgError("Singular matrix")

    r = _quiet("nc1", singular)
    assert r.status == "error" and r.mistake == "nc1_plain_inverse" and "pseudo-inverse" in r.message


def test_nc1_with_coinciding_class_means_needs_a_relative_threshold():
    # the last hidden case has two classes with the same mean: Sigma_B has rank C - 2 there
    cases = EXERCISES["nc1"].cases()
    H, y = cases[-1].args
    C = int(y.max()) + 1

    def rank(H, y):  # singular values of M below 1e-10 x the largest are rounding error
        s = np.linalg.svd(_means(H, y) - H.mean(0), compute_uv=False)
        return int(np.sum(s > 1e-10 * s[0]))

    assert rank(H, y) == C - 2 and np.array_equal(_means(H, y)[1], _means(H, y)[3])
    assert all(rank(*c.args) == c.dims["C"] - 1 for c in cases[:-1])
    for rtol in (1e-12, 1e-10, 1e-8):  # eigenvalues below rtol x the largest count as zero, as in ncedu.metrics
        assert _quiet("nc1", lambda H, y: nc1_top_eigenpairs(H, y, rtol)).passed
    fixed = _quiet("nc1", nc1_top_eigenpairs)  # exactly C - 1 eigenpairs: right on every other case
    assert fixed.mistake == "nc1_fixed_rank" and fixed.cases_passed == fixed.cases_total - 1, fixed.message
    assert "rank C - 2" in fixed.message and "tolerance" in fixed.message


def test_logistic_gradient_names_overflow_and_passes_stable_forms():
    # 1/(1 + e^m) is right on moderate margins but overflows (a RuntimeWarning) for m near +1000;
    # e^{-m}/(1 + e^{-m}) gives inf/inf = NaN for m near -1000. Both are named; stable forms pass.
    from scipy.special import expit

    def naive(X, y, w):
        return -(y / (1 + np.exp(y * (X @ w)))) @ X / len(X)

    def naive_other_way(X, y, w):
        e = np.exp(-y * (X @ w))
        return -(y * e / (1 + e)) @ X / len(X)

    def tanh_form(X, y, w):
        return -(y * 0.5 * (1 - np.tanh(0.5 * y * (X @ w)))) @ X / len(X)

    n_moderate = len(EXERCISES["normalized_margin"].cases())
    for answer in (naive, naive_other_way):
        r = _quiet("logistic_gradient", answer)
        assert r.mistake == "logistic_grad_overflow" and r.cases_passed >= n_moderate, r.message
        assert "overflow" in r.message and "stable" in r.message
    with np.errstate(all="ignore"):  # a reader who silenced numpy is still told
        assert _quiet("logistic_gradient", naive).mistake == "logistic_grad_overflow"
    for answer in (good_logistic_gradient, tanh_form, lambda X, y, w: -(y * expit(-y * (X @ w))) @ X / len(X)):
        assert _quiet("logistic_gradient", answer).passed
    with warnings.catch_warnings():  # the check leaves no warning behind for a stable answer
        warnings.simplefilter("error")
        assert _quiet("logistic_gradient", good_logistic_gradient).passed


def test_webb_lowe_with_a_plain_inverse_of_a_singular_sigma_t_gets_the_hint():
    def plain_inverse(H, y):
        T = H - H.mean(0)
        return (_means(H, y) - H.mean(0)) @ np.linalg.inv(T.T @ T / len(H)) / (y.max() + 1)

    r = _quiet("webb_lowe_weights", plain_inverse)
    assert r.mistake == "wl_plain_inverse" and "pseudo-inverse" in r.message and r.cases_passed >= 1


def test_mistake_messages_say_what_went_wrong_in_words():
    r = _quiet("nc1", MISTAKES[[c for _, _, c in MISTAKES].index("nc1_missing_div_C")][1])
    assert "without the division by C" in r.message
    r = _quiet("within_class_covariance", lambda H, y: cov(H - H.mean(0), len(H)))
    assert "global mean" in r.message and "Sigma_T" in r.message


def test_etf_structure_failures():
    def not_equiangular(C, p):  # unit rows summing to zero, unequal angles
        if C != 4:
            return good_simplex_etf(C, p)
        V = np.zeros((4, p))
        V[:, :2] = [[1, 0], [-1, 0], [0, 1], [0, -1]]
        return V

    assert _quiet("simplex_etf", not_equiangular).mistake == "etf_not_equiangular"

    def uneven(C):
        G = good_etf_gram(C)
        G[0, 1] = G[1, 0] = 0.0
        return G

    assert _quiet("etf_gram", uneven).mistake == "etf_gram_offdiagonal_not_constant"


# ----------------------------------------------------------------------------------------------
# Nothing leaks, and everything is deterministic
# ----------------------------------------------------------------------------------------------

_FLOAT = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def _significant_digits(token):
    mantissa = re.split("[eE]", token)[0].lstrip("+-").replace(".", "").lstrip("0")
    return len(mantissa.rstrip("0")) if "." in token or "e" in token.lower() else len(mantissa)


def _reference_strings(name):
    ex = EXERCISES[name]
    out = set()
    for case in ex.cases():
        if ex.reference is not None:
            values = np.atleast_1d(np.asarray(ex.reference(case), dtype=float)).ravel()
        else:
            values = np.atleast_1d(good_etf_gram(case.dims["C"])).ravel()
        for v in values:
            if v != 0 and np.isfinite(v):
                strings = {f"{x:.{d}g}" for d in (4, 5, 6) for x in (v, abs(v))}
                out |= {t for t in strings if _significant_digits(t) >= 4}  # 1 or -0.5 are no leak
    return out


@pytest.mark.parametrize("name", sorted(BOOK_EXERCISES))
def test_printed_verdicts_never_contain_reference_numbers(name, capsys):
    answers = [GOOD[name], stub] + [a for n, a, _ in MISTAKES if n == name]
    for answer in answers:
        check(name, answer)
    out = capsys.readouterr().out
    for token in _FLOAT.findall(out):
        if "." in token or "e" in token.lower():
            assert _significant_digits(token) <= 3, (token, out)
    leaked = [s for s in _reference_strings(name) if s in out]
    assert not leaked, leaked


@pytest.mark.parametrize("name", sorted(BOOK_EXERCISES))
def test_hidden_cases_are_deterministic(name):
    first, second = EXERCISES[name].cases(), EXERCISES[name].cases()
    assert len(first) == len(second)
    for a, b in zip(first, second):
        assert len(a.args) == len(b.args)
        for x, z in zip(a.args, b.args):
            assert np.array_equal(np.asarray(x), np.asarray(z))
    wrong = [a for n, a, _ in MISTAKES if n == name][:1] or [stub]
    assert _quiet(name, wrong[0]) == _quiet(name, wrong[0])
    assert _quiet(name, GOOD[name]) == _quiet(name, GOOD[name])


def test_hidden_cases_cover_balanced_imbalanced_far_offsets_and_two_classes():
    cases = EXERCISES["nc1"].cases()
    counts = [np.bincount(c.args[1]) for c in cases]
    assert any(len(set(k)) == 1 for k in counts) and any(len(set(k)) > 1 for k in counts)
    assert any(len(k) == 2 for k in counts) and len({c.dims["p"] for c in cases}) >= 5
    assert max(np.linalg.norm(c.args[0].mean(0)) for c in cases) > 50
    for c in cases:  # labels are not sorted by class
        assert np.any(np.diff(c.args[1]) < 0)


def test_student_receives_copies_of_the_hidden_data():
    seen = []

    def vandal(H, y):
        seen.append(H.copy())
        H[:] = 0.0
        return good_class_means(H, y)

    _quiet("class_means", vandal)
    assert np.any(EXERCISES["class_means"].cases()[0].args[0] != 0)
    r = _quiet("class_means", good_class_means)
    assert r.passed
