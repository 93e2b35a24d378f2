"""The checker of the imbalance chapter's coding exercise (seli_classifier_gram): right answers written the ways a
student would pass, every named mistake is named, nothing leaks the expected values, and the hidden reference
agrees with ncedu.theory.seli_geometry (written independently, from C x C matrices) and with the closed form
for balanced classes.

Every answer below is plain numpy (or scipy, or torch), written independently of ncedu.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch

import ncedu
from ncedu.exercises import EXERCISES, check
from ncedu.exercises.imbalance import exercises
from ncedu.theory import seli_geometry

NAME = "seli_classifier_gram"
torch.set_num_threads(1)


def _quiet(fn):
    return check(NAME, fn, quiet=True)


def sel(n):
    C = len(n)
    y = np.repeat(np.arange(C), n)
    return np.eye(C)[:, y] - 1.0 / C


# ----------------------------------------------------------------------------------------------
# Right answers, as a student would write them
# ----------------------------------------------------------------------------------------------


def good_svd(n):
    V, lam, _ = np.linalg.svd(sel(n), full_matrices=False)
    return V @ np.diag(lam) @ V.T


def good_eigh_clipped(n):
    Z = sel(n)
    lam, V = np.linalg.eigh(Z @ Z.T)
    return V @ np.diag(np.sqrt(np.clip(lam, 0, None))) @ V.T


def good_scipy_sqrtm(n):
    linalg = pytest.importorskip("scipy.linalg")
    Z = sel(n)
    with warnings.catch_warnings():  # scipy warns that Z Z^T is singular (it is: rank C - 1)
        warnings.simplefilter("ignore")
        return np.real(linalg.sqrtm(Z @ Z.T))


def good_without_the_big_matrix(n):
    # Z Z^T = P diag(n) P with P = I - 11^T/C, so no C x N matrix is needed
    C = len(n)
    P = np.eye(C) - np.ones((C, C)) / C
    lam, V = np.linalg.eigh(P @ np.diag(n.astype(float)) @ P)
    lam = np.maximum(lam, 0.0)
    return (V * np.sqrt(lam)) @ V.T


def good_torch(n):
    C = len(n)
    labels = torch.repeat_interleave(torch.arange(C), torch.from_numpy(n))
    Z = torch.nn.functional.one_hot(labels, C).double().T - 1.0 / C
    V, lam, _ = torch.linalg.svd(Z, full_matrices=False)
    return (V * lam) @ V.T                                   # a tensor


def good_loops(n):
    columns = []
    for c, count in enumerate(n):
        for _ in range(int(count)):
            e = [1.0 if k == c else 0.0 for k in range(len(n))]
            columns.append([v - 1.0 / len(n) for v in e])
    Z = np.array(columns).T
    U, s, _ = np.linalg.svd(Z)
    r = len(s)
    return (U[:, :r] * s) @ U[:, :r].T


GOOD = [good_svd, good_eigh_clipped, good_scipy_sqrtm, good_without_the_big_matrix, good_torch, good_loops]


@pytest.mark.parametrize("answer", GOOD, ids=lambda f: f.__name__)
def test_right_answers_pass(answer):
    r = _quiet(answer)
    assert r.status == "passed", r.message
    assert r.passed and r.mistake is None and r.cases_passed == r.cases_total >= 8


def test_the_exercise_is_registered_and_its_module_lists_it():
    assert NAME in EXERCISES and [ex.name for ex in exercises()] == [NAME]
    assert EXERCISES[NAME].signature.startswith("seli_classifier_gram(n)")


# ----------------------------------------------------------------------------------------------
# The reference, checked against independent computations
# ----------------------------------------------------------------------------------------------


def test_the_hidden_reference_is_ncedus_seli_geometry_and_the_etf_for_balanced_classes():
    ex = EXERCISES[NAME]
    for case in ex.cases():
        (n,) = case.args
        expected = ex.reference(case)
        assert np.allclose(seli_geometry(n).classifier_gram, expected, atol=1e-10), case.note
        if len(set(n.tolist())) == 1:
            C = len(n)
            assert np.allclose(expected, np.sqrt(n[0]) * (C - 1) / C * ncedu.etf_gram(C))


def test_the_hidden_cases_expose_what_the_exercise_is_about():
    counts = [c.args[0] for c in EXERCISES[NAME].cases()]
    assert len(set(counts[0].tolist())) > 1                     # imbalanced first
    assert any(len(set(n.tolist())) == 1 for n in counts)       # balanced somewhere
    assert any(len(n) == 2 for n in counts) and any(len(n) == 10 for n in counts)
    assert max(n.max() / n.min() for n in counts) >= 100        # a strong imbalance
    assert all(n.dtype == np.int64 and n.min() >= 1 for n in counts)


# ----------------------------------------------------------------------------------------------
# Named mistakes, as a student would make them
# ----------------------------------------------------------------------------------------------


def no_square_root(n):
    Z = sel(n)
    return Z @ Z.T


def uncentred(n):
    C = len(n)
    Y = np.eye(C)[:, np.repeat(np.arange(C), n)]
    V, lam, _ = np.linalg.svd(Y, full_matrices=False)
    return (V * lam) @ V.T


def centred_over_samples(n):
    C = len(n)
    Y = np.eye(C)[:, np.repeat(np.arange(C), n)]
    Z = Y - Y.mean(axis=1, keepdims=True)
    lam, V = np.linalg.eigh(Z @ Z.T)
    return (V * np.sqrt(np.clip(lam, 0, None))) @ V.T


def projector(n):
    V, lam, _ = np.linalg.svd(sel(n), full_matrices=False)
    V = V[:, lam > 1e-9]
    return V @ V.T


def cosine_matrix(n):
    G = good_svd(n)
    d = np.sqrt(np.diag(G))
    return G / d[:, None] / d[None, :]


def right_singular_vectors(n):
    _, lam, Ut = np.linalg.svd(sel(n), full_matrices=False)
    K = (Ut.T * lam) @ Ut
    first = np.concatenate([[0], np.cumsum(n)[:-1]])
    return K[np.ix_(first, first)]


def entrywise_sqrt(n):
    Z = sel(n)
    with np.errstate(invalid="ignore"):
        return np.sqrt(Z @ Z.T)


def entrywise_sqrt_of_abs(n):
    Z = sel(n)
    return np.sqrt(np.abs(Z @ Z.T))


def eigenvalues_not_clipped(n):
    Z = sel(n)
    lam, V = np.linalg.eigh(Z @ Z.T)
    with np.errstate(invalid="ignore"):
        return V @ np.diag(np.sqrt(lam)) @ V.T


def cholesky(n):
    Z = sel(n)
    return np.linalg.cholesky(Z @ Z.T + 1e-12 * np.eye(len(n)))


def one_root_negative(n):
    Z = sel(n)
    lam, V = np.linalg.eigh(Z @ Z.T)
    roots = np.sqrt(np.clip(lam, 0, None))
    roots[-1] *= -1                                          # the largest root taken with the wrong sign
    return (V * roots) @ V.T


def sample_gram(n):
    Z = sel(n)
    return Z.T @ Z


def the_sel_matrix(n):
    return sel(n)


def singular_values(n):
    return np.linalg.svd(sel(n), compute_uv=False)


MISTAKES = [
    (no_square_root, "seli_no_square_root"),
    (uncentred, "seli_uncentred_labels"),
    (centred_over_samples, "seli_centred_over_samples"),
    (projector, "seli_singular_values_dropped"),
    (cosine_matrix, "seli_cosines_not_gram"),
    (right_singular_vectors, "seli_feature_gram"),
    (entrywise_sqrt, "seli_entrywise_sqrt"),
    (entrywise_sqrt_of_abs, "seli_entrywise_sqrt"),
    (eigenvalues_not_clipped, "seli_negative_eigenvalue"),
    (cholesky, "not_symmetric"),
    (one_root_negative, "not_positive_semidefinite"),
    (sample_gram, "wrong_shape"),
    (the_sel_matrix, "wrong_shape"),
    (singular_values, "wrong_shape"),
]


@pytest.mark.parametrize("answer, code", MISTAKES, ids=[f"{c}-{f.__name__}" for f, c in MISTAKES])
def test_each_named_mistake_is_named(answer, code):
    r = _quiet(answer)
    assert r.status in ("failed", "error"), r.message
    assert r.mistake == code, r.message
    assert not r.passed and r.cases_passed < r.cases_total


def test_centring_over_the_samples_fails_only_on_imbalanced_classes():
    r = _quiet(centred_over_samples)
    assert r.cases_passed == 0 and "balanced" in r.message  # the first case is imbalanced
    balanced = [c for c in EXERCISES[NAME].cases() if len(set(c.args[0].tolist())) == 1]
    for case in balanced:
        assert np.allclose(centred_over_samples(case.args[0]), EXERCISES[NAME].reference(case))


def test_the_shape_messages_say_what_the_wrong_shape_looks_like():
    assert "Z^T Z" in _quiet(sample_gram).message
    assert "SEL matrix Z itself" in _quiet(the_sel_matrix).message
    assert "one value per class" in _quiet(singular_values).message


def test_every_advertised_mistake_code_is_exercised_here():
    tested = {code for _, code in MISTAKES}
    assert set(EXERCISES[NAME].mistakes) <= tested, set(EXERCISES[NAME].mistakes) - tested


def test_a_stub_is_not_attempted_and_none_asks_about_return():
    def stub(n):
        raise NotImplementedError

    assert _quiet(stub).status == "not attempted"
    r = _quiet(lambda n: None)
    assert r.status == "failed" and r.mistake == "returned_none"


def test_an_answer_that_changes_its_input_is_told_so():
    def in_place(n):
        G = good_svd(n)
        n *= 0
        return G

    r = _quiet(in_place)
    assert r.mistake == "modified_input"


# ----------------------------------------------------------------------------------------------
# Nothing leaks; the cases are the same every time
# ----------------------------------------------------------------------------------------------

_FLOAT = re.compile(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?")


def _significant_digits(token: str) -> int:
    mantissa = token.lower().split("e")[0].lstrip("+-").replace(".", "").lstrip("0")
    return len(mantissa)


def test_printed_verdicts_never_contain_the_expected_values(capsys):
    ex = EXERCISES[NAME]
    for answer in [good_svd] + [a for a, _ in MISTAKES]:
        check(NAME, answer)
    out = capsys.readouterr().out
    for token in _FLOAT.findall(out):
        if "." in token or "e" in token.lower():
            assert _significant_digits(token) <= 3, (token, out)
    for case in ex.cases():
        for v in np.unique(np.round(ex.reference(case), 12)):
            for digits in (4, 5, 6):
                if abs(v) > 1e-9:
                    assert f"{v:.{digits}g}" not in out


def test_hidden_cases_are_deterministic():
    first, second = EXERCISES[NAME].cases(), EXERCISES[NAME].cases()
    for a, b in zip(first, second):
        assert np.array_equal(a.args[0], b.args[0])
    assert _quiet(uncentred) == _quiet(uncentred)
