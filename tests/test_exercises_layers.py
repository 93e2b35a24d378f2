"""The checker of the layers chapter's coding exercise (separation_fuzziness): right answers written the ways a
student would pass, every named mistake is named, nothing leaks the expected values, and the hidden reference
agrees with ncedu's own (independently written) fuzziness and with C * NC1 on balanced classes.

Every answer below is plain numpy (or torch), written independently of ncedu.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

import ncedu
from ncedu.exercises import EXERCISES, check
from ncedu.exercises.layers import exercises

NAME = "separation_fuzziness"
torch.set_num_threads(1)


def _quiet(fn):
    return check(NAME, fn, quiet=True)


# ----------------------------------------------------------------------------------------------
# Right answers, as a student would write them
# ----------------------------------------------------------------------------------------------


def _means(H, y):
    return np.stack([H[y == c].mean(axis=0) for c in range(int(y.max()) + 1)])


def good_pinv(H, y):
    mu, mu_G = _means(H, y), H.mean(axis=0)
    n = np.bincount(y)
    M = mu - mu_G
    SS_b = (M.T * n) @ M / len(H)
    R = H - mu[y]
    SS_w = R.T @ R / len(H)
    return float(np.trace(SS_w @ np.linalg.pinv(SS_b)))


def good_loop_np_cov(H, y):
    # class by class, np.cov with bias=True (divides by the count) and explicit weights
    N, p = H.shape
    mu_G = H.mean(axis=0)
    SS_b, SS_w = np.zeros((p, p)), np.zeros((p, p))
    for c in np.unique(y):
        Hc = H[y == c]
        d = Hc.mean(axis=0) - mu_G
        SS_b += len(Hc) / N * np.outer(d, d)
        if len(Hc) > 1:
            SS_w += len(Hc) / N * np.cov(Hc.T, bias=True).reshape(p, p)
    return np.trace(SS_w @ np.linalg.pinv(SS_b, hermitian=True))


def good_projected(H, y):
    # only the span of the centred means matters: D = Tr((U^T SS_w U)(U^T SS_b U)^{-1}) for an orthonormal basis U
    mu, mu_G = _means(H, y), H.mean(axis=0)
    n = np.bincount(y)
    M = mu - mu_G
    U, s, _ = np.linalg.svd(M.T, full_matrices=False)
    U = U[:, s > s[0] * 1e-9]
    B = (U.T @ M.T * n) @ (M @ U) / len(H)
    R = (H - mu[y]) @ U
    return float(np.trace(np.linalg.solve(B, R.T @ R / len(H))))


def good_torch(H, y):
    Ht, yt = torch.from_numpy(H), torch.from_numpy(y)
    C = int(yt.max()) + 1
    onehot = torch.nn.functional.one_hot(yt, C).double()
    counts = onehot.sum(0)
    mu = onehot.T @ Ht / counts[:, None]
    M = mu - Ht.mean(0)
    SS_b = (M.T * counts) @ M / len(Ht)
    R = Ht - mu[yt]
    SS_w = R.T @ R / len(Ht)
    return torch.trace(SS_w @ torch.linalg.pinv(SS_b, hermitian=True))  # a 0-d tensor


def good_eig_threshold(H, y):
    # an explicit pseudo-inverse with a relative threshold, returned as a 0-d array
    mu, mu_G = _means(H, y), H.mean(axis=0)
    n = np.bincount(y)
    SS_b = sum(n[c] * np.outer(mu[c] - mu_G, mu[c] - mu_G) for c in range(len(n))) / len(H)
    lam, V = np.linalg.eigh(SS_b)
    keep = lam > 1e-12 * lam.max()
    pinv = (V[:, keep] / lam[keep]) @ V[:, keep].T
    R = H - mu[y]
    return np.array(np.sum((R @ pinv) * R) / len(H))


GOOD = [good_pinv, good_loop_np_cov, good_projected, good_torch, good_eig_threshold]


@pytest.mark.parametrize("answer", GOOD, ids=lambda f: f.__name__)
def test_right_answers_pass(answer):
    r = _quiet(answer)
    assert r.status == "passed", r.message
    assert r.passed and r.mistake is None and r.cases_passed == r.cases_total >= 8


def test_the_exercise_is_registered_and_its_module_lists_it():
    assert NAME in EXERCISES and [ex.name for ex in exercises()] == [NAME]
    assert EXERCISES[NAME].signature.startswith("separation_fuzziness(H, y)")


# ----------------------------------------------------------------------------------------------
# The reference, checked against independent computations
# ----------------------------------------------------------------------------------------------


def test_the_hidden_reference_is_ncedus_fuzziness_and_c_times_nc1_for_balanced_classes():
    ex = EXERCISES[NAME]
    for case in ex.cases():
        H, y = case.args
        C = int(y.max()) + 1
        expected = ex.reference(case)
        # ncedu's own streaming implementation (ncedu._layers), on the identity "layer"
        found = ncedu.measure_layers(nn.Sequential(nn.Identity()), [(torch.from_numpy(H), torch.from_numpy(y))], ["0"],
                                     classifier=False, num_classes=C)["0"].fuzziness
        assert np.isclose(found, expected, rtol=1e-7), (case.note, found, expected)
        assert np.isclose(good_projected(H, y), expected, rtol=1e-8)
        if len(set(np.bincount(y))) == 1:
            assert np.isclose(expected, C * ncedu.measure(H, y).nc1, rtol=1e-8)


def test_the_hidden_cases_expose_what_the_exercise_is_about():
    cases = EXERCISES[NAME].cases()
    counts = [np.bincount(c.args[1]) for c in cases]
    assert len(set(counts[0])) > 1  # imbalanced first: 1/C and n_c/N weights differ at once
    assert cases[0].dims["p"] == cases[0].dims["C"] - 1  # SS_b invertible first: a plain inverse still works there
    assert cases[1].dims["p"] > cases[1].dims["C"] - 1  # then singular
    assert any(len(set(k)) == 1 for k in counts) and any(len(k) == 2 for k in counts) and any(len(k) == 10 for k in counts)
    assert max(np.linalg.norm(c.args[0].mean(0)) for c in cases) > 50
    shared = cases[-1]
    H, y = shared.args
    mu = _means(H, y)
    rank = np.linalg.matrix_rank(mu - H.mean(0))
    assert rank == shared.dims["C"] - 2  # two classes share a mean exactly
    for c in cases:
        assert np.any(np.diff(c.args[1]) < 0)  # labels not sorted by class


# ----------------------------------------------------------------------------------------------
# Named mistakes, as a student would make them
# ----------------------------------------------------------------------------------------------


def _pieces(H, y):
    mu, mu_G = _means(H, y), H.mean(axis=0)
    n = np.bincount(y)
    M = mu - mu_G
    R = H - mu[y]
    return mu, mu_G, n, M, R, len(H), len(n)


def nc1_instead(H, y):
    mu, mu_G, n, M, R, N, C = _pieces(H, y)
    return float(np.trace(R.T @ R / N @ np.linalg.pinv(M.T @ M / C)) / C)


def uniform_weights(H, y):
    mu, mu_G, n, M, R, N, C = _pieces(H, y)
    return float(np.trace(R.T @ R / N @ np.linalg.pinv(M.T @ M / C)))


def divided_by_C(H, y):
    return good_pinv(H, y) / (int(y.max()) + 1)


def within_at_global_mean(H, y):
    mu, mu_G, n, M, R, N, C = _pieces(H, y)
    T = H - mu_G
    return float(np.trace(T.T @ T / N @ np.linalg.pinv((M.T * n) @ M / N)))


def inverted(H, y):
    mu, mu_G, n, M, R, N, C = _pieces(H, y)
    return float(np.trace((M.T * n) @ M / N @ np.linalg.pinv(R.T @ R / N)))


def mean_of_class_means(H, y):
    mu, mu_G, n, M, R, N, C = _pieces(H, y)
    M2 = mu - mu.mean(axis=0)
    return float(np.trace(R.T @ R / N @ np.linalg.pinv((M2.T * n) @ M2 / N)))


def np_cov_default(H, y):
    mu, mu_G, n, M, R, N, C = _pieces(H, y)
    return float(np.trace(np.cov(R.T) @ np.linalg.pinv((M.T * n) @ M / N)))  # np.cov divides by N - 1


def average_of_class_covariances(H, y):
    mu, mu_G, n, M, R, N, C = _pieces(H, y)
    S = sum(np.cov(H[y == c].T, bias=True) for c in range(C)) / C
    return float(np.trace(S @ np.linalg.pinv((M.T * n) @ M / N)))


def within_not_divided(H, y):
    mu, mu_G, n, M, R, N, C = _pieces(H, y)
    return float(np.trace(R.T @ R @ np.linalg.pinv((M.T * n) @ M / N)))


def between_not_divided(H, y):
    mu, mu_G, n, M, R, N, C = _pieces(H, y)
    return float(np.trace(R.T @ R / N @ np.linalg.pinv((M.T * n) @ M)))


def trace_ratio(H, y):
    mu, mu_G, n, M, R, N, C = _pieces(H, y)
    return float(np.sum(R ** 2) / N / (np.sum(n[:, None] * M ** 2) / N))


def plain_inverse(H, y):
    mu, mu_G, n, M, R, N, C = _pieces(H, y)
    with np.errstate(all="ignore"):
        return float(np.trace(R.T @ R / N @ np.linalg.inv((M.T * n) @ M / N)))


def fixed_rank(H, y):
    mu, mu_G, n, M, R, N, C = _pieces(H, y)
    lam, V = np.linalg.eigh((M.T * n) @ M / N)
    V, lam = V[:, -(C - 1):], lam[-(C - 1):]  # exactly C - 1 eigenpairs, whatever their size
    return float(np.trace(R.T @ R / N @ (V / lam) @ V.T))


def the_matrix(H, y):
    mu, mu_G, n, M, R, N, C = _pieces(H, y)
    return R.T @ R / N @ np.linalg.pinv((M.T * n) @ M / N)


def per_class(H, y):
    mu, mu_G, n, M, R, N, C = _pieces(H, y)
    P = np.linalg.pinv((M.T * n) @ M / N)
    return np.array([np.sum((R[y == c] @ P) * R[y == c]) / N for c in range(C)])


MISTAKES = [
    (nc1_instead, "fuzziness_is_nc1"),
    (uniform_weights, "fuzziness_uniform_class_weights"),
    (divided_by_C, "fuzziness_divided_by_C"),
    (within_at_global_mean, "fuzziness_within_centred_at_global_mean"),
    (inverted, "fuzziness_inverted"),
    (mean_of_class_means, "fuzziness_global_mean_of_class_means"),
    (np_cov_default, "fuzziness_within_divided_by_n_minus_1"),
    (average_of_class_covariances, "fuzziness_within_average_of_class_covariances"),
    (within_not_divided, "fuzziness_unnormalised_sum"),
    (between_not_divided, "fuzziness_unnormalised_sum"),
    (trace_ratio, "fuzziness_trace_ratio"),
    (plain_inverse, "fuzziness_plain_inverse"),
    (fixed_rank, "fuzziness_fixed_rank"),
    (the_matrix, "wrong_shape"),
    (per_class, "wrong_shape"),
]


@pytest.mark.parametrize("answer, code", MISTAKES, ids=[f"{c}-{f.__name__}" for f, c in MISTAKES])
def test_each_named_mistake_is_named(answer, code):
    r = _quiet(answer)
    assert r.status in ("failed", "error"), r.message
    assert r.mistake == code, r.message
    assert not r.passed and r.cases_passed < r.cases_total


def test_a_plain_inverse_fails_only_where_ss_b_is_singular_and_a_fixed_rank_only_where_means_coincide():
    assert _quiet(plain_inverse).cases_passed == 1  # the first case has p = C - 1: SS_b is invertible there
    r = _quiet(fixed_rank)
    assert r.cases_passed == r.cases_total - 1 and "share a mean" in r.message


def test_a_plain_inverse_that_raises_gets_the_hint():
    def singular(H, y):
        raise np.linalg.LinAlgError("Singular matrix")

    r = _quiet(singular)
    assert r.status == "error" and r.mistake == "fuzziness_plain_inverse" and "pseudo-inverse" in r.message


def test_the_shape_messages_say_what_the_wrong_shape_looks_like():
    assert "its trace" in _quiet(the_matrix).message
    assert "one value per class" in _quiet(per_class).message


def test_every_advertised_mistake_code_is_exercised_here():
    tested = {code for _, code in MISTAKES}
    assert set(EXERCISES[NAME].mistakes) <= tested, set(EXERCISES[NAME].mistakes) - tested


def test_a_stub_is_not_attempted_and_none_asks_about_return():
    def stub(H, y):
        raise NotImplementedError

    assert _quiet(stub).status == "not attempted"
    r = _quiet(lambda H, y: None)
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
    for answer in [good_pinv] + [a for a, _ in MISTAKES]:
        check(NAME, answer)
    out = capsys.readouterr().out
    for token in _FLOAT.findall(out):
        if "." in token or "e" in token.lower():
            assert _significant_digits(token) <= 3, (token, out)
    for case in ex.cases():
        v = ex.reference(case)
        for digits in (4, 5, 6):
            assert f"{v:.{digits}g}" not in out


def test_hidden_cases_are_deterministic():
    first, second = EXERCISES[NAME].cases(), EXERCISES[NAME].cases()
    for a, b in zip(first, second):
        for x, z in zip(a.args, b.args):
            assert np.array_equal(x, z)
    assert _quiet(uniform_weights) == _quiet(uniform_weights)
