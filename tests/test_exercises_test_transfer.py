"""The checker of the chapter "Collapse on test data, generalisation and transfer": Kornblith et al.'s R^2.

Every answer below is written as a student would, in plain numpy (or scipy, or torch), independently
of ``ncedu.exercises.test_transfer``. Right answers in several forms pass; each named mistake is
named; the verdicts never print the expected values.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from ncedu.exercises import BEYOND_MODULES, EXERCISES, check

NAME = "class_separation"


def quiet(fn):
    return check(NAME, fn, quiet=True)


def unit(H):
    return H / np.linalg.norm(H, axis=1, keepdims=True)


# ----------------------------------------------------------------------------------------------
# Right answers
# ----------------------------------------------------------------------------------------------


def good_loops(H, y):
    """The definition term by term: every ordered pair, every class weighted equally."""
    classes = sorted(set(y.tolist()))
    groups = [H[y == k] for k in classes]

    def cos_dist(a, b):
        return 1.0 - float(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b))

    K = len(groups)
    d_within = sum(sum(cos_dist(a, b) for a in g for b in g) / (K * len(g) ** 2) for g in groups)
    d_total = sum(sum(cos_dist(a, b) for a in gj for b in gk) / (K ** 2 * len(gj) * len(gk))
                  for gj in groups for gk in groups)
    return 1.0 - d_within / d_total


def good_vectorised(H, y):
    Z = unit(H)
    K = int(y.max()) + 1
    S = 1.0 - Z @ Z.T
    block = np.array([[S[np.ix_(y == j, y == k)].mean() for k in range(K)] for j in range(K)])
    return 1.0 - np.trace(block) / K / block.mean()


def good_identity(H, y):
    """R^2 = B / (W + B) for unit-length features, every class weighted equally (the proof exercise)."""
    Z = unit(H)
    K = int(y.max()) + 1
    means = np.stack([Z[y == k].mean(0) for k in range(K)])
    W = np.mean([np.sum((Z[y == k] - means[k]) ** 2, axis=1).mean() for k in range(K)])
    B = np.mean(np.sum((means - means.mean(0)) ** 2, axis=1))
    return B / (W + B)


def good_scipy(H, y):
    from scipy.spatial.distance import cdist

    K = int(y.max()) + 1
    within = np.mean([cdist(H[y == k], H[y == k], "cosine").mean() for k in range(K)])
    total = np.mean([cdist(H[y == j], H[y == k], "cosine").mean() for j in range(K) for k in range(K)])
    return 1 - within / total


def good_torch(H, y):
    Z = torch.nn.functional.normalize(torch.from_numpy(H), dim=1)
    labels = torch.from_numpy(y)
    K = int(labels.max()) + 1
    D = 1 - Z @ Z.T
    blocks = torch.stack([torch.stack([D[labels == j][:, labels == k].mean() for k in range(K)]) for j in range(K)])
    return 1 - blocks.diagonal().mean() / blocks.mean()            # a 0-d float64 tensor


@pytest.mark.parametrize("answer", [good_loops, good_vectorised, good_identity, good_scipy, good_torch])
def test_right_answers_in_several_forms_pass(answer):
    r = quiet(answer)
    assert r.passed, r.message
    assert r.cases_passed == r.cases_total >= 5


def test_the_exercise_is_registered_through_its_chapter_module():
    assert "test_transfer" in BEYOND_MODULES
    assert NAME in EXERCISES and EXERCISES[NAME].arg_names == ("H", "y")


# ----------------------------------------------------------------------------------------------
# Named mistakes, each as a student would make it
# ----------------------------------------------------------------------------------------------


def _blocks(H, y, dist):
    K = int(y.max()) + 1
    return np.array([[dist(H[y == j], H[y == k]).mean() for k in range(K)] for j in range(K)])


def _cos(A, B):
    return 1.0 - unit(A) @ unit(B).T


def pdist_within(H, y):
    from scipy.spatial.distance import cdist, pdist

    K = int(y.max()) + 1
    within = sum(pdist(H[y == k], "cosine").sum() / (K * (y == k).sum() ** 2) for k in range(K))
    total = np.mean([cdist(H[y == j], H[y == k], "cosine").mean() for j in range(K) for k in range(K)])
    return 1 - within / total


def distinct_pairs(H, y):
    K = int(y.max()) + 1
    w = []
    for k in range(K):
        D = _cos(H[y == k], H[y == k])
        n = len(D)
        w.append(D[~np.eye(n, dtype=bool)].mean())
    return 1 - np.mean(w) / _blocks(H, y, _cos).mean()


def euclidean(H, y):
    def dist(A, B):
        return np.sqrt(np.maximum(((A[:, None, :] - B[None, :, :]) ** 2).sum(-1), 0.0))

    b = _blocks(H, y, dist)
    return 1 - np.trace(b) / len(b) / b.mean()


def squared_euclidean_raw(H, y):
    b = _blocks(H, y, lambda A, B: ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1))
    return 1 - np.trace(b) / len(b) / b.mean()


def similarity(H, y):
    b = _blocks(H, y, lambda A, B: unit(A) @ unit(B).T)
    return 1 - np.trace(b) / len(b) / b.mean()


def missing_one_minus(H, y):
    b = _blocks(H, y, _cos)
    return np.trace(b) / len(b) / b.mean()


def pooled_total(H, y):
    b = _blocks(H, y, _cos)
    return 1 - np.trace(b) / len(b) / _cos(H, H).mean()


def within_weighted(H, y):
    K = int(y.max()) + 1
    b = _blocks(H, y, _cos)
    sizes = np.bincount(y, minlength=K)
    return 1 - (np.diag(b) @ sizes / sizes.sum()) / b.mean()


def between_only(H, y):
    b = _blocks(H, y, _cos)
    K = len(b)
    return 1 - np.trace(b) / K / b[~np.eye(K, dtype=bool)].mean()


def trace_ratio_shortcut(H, y):
    """1 / (1 + Tr Sigma_W / Tr Sigma_B) of the normalised features with the paper's conventions."""
    Z = unit(H)
    K = int(y.max()) + 1
    means = np.stack([Z[y == k].mean(0) for k in range(K)])
    tr_w = np.sum((Z - means[y]) ** 2) / len(Z)
    tr_b = np.sum((means - Z.mean(0)) ** 2) / K
    return 1 / (1 + tr_w / tr_b)


def above_one(H, y):
    return 1 + good_identity(H, y) ** 2


MISTAKES = [
    (pdist_within, "r2_within_unordered_pairs"),
    (distinct_pairs, "r2_within_distinct_pairs"),
    (euclidean, "r2_euclidean_distance"),
    (squared_euclidean_raw, "r2_squared_euclidean_raw"),
    (similarity, "r2_similarity_not_distance"),
    (missing_one_minus, "r2_missing_one_minus"),
    (pooled_total, "r2_total_over_samples"),
    (within_weighted, "r2_within_weighted_by_size"),
    (between_only, "r2_total_between_only"),
    (trace_ratio_shortcut, "r2_trace_ratio_sample_weights"),
    (above_one, "r2_above_one"),
    (lambda H, y: np.array([good_identity(H, y)] * (int(y.max()) + 1)), "wrong_shape"),
    (lambda H, y: 1 - _cos(H, H), "wrong_shape"),
]


@pytest.mark.parametrize("answer, code", MISTAKES, ids=[c for _, c in MISTAKES])
def test_each_common_mistake_is_named(answer, code):
    r = quiet(answer)
    assert r.status == "failed", r.message
    assert r.mistake == code, r.message
    assert r.cases_passed < r.cases_total


def test_every_advertised_mistake_code_is_exercised_here():
    assert set(EXERCISES[NAME].mistakes) <= {code for _, code in MISTAKES}


def test_balanced_only_mistakes_pass_the_balanced_cases_and_fail_on_an_imbalanced_one():
    # the shortcut of the proof exercise is right for balanced classes: it must not be called wrong there
    cases = EXERCISES[NAME].cases()
    balanced = [len(set(np.bincount(c.args[1]).tolist())) == 1 for c in cases]
    assert any(balanced) and not all(balanced) and not balanced[0]
    for c, is_balanced in zip(cases, balanced):
        if is_balanced:
            for wrong in (trace_ratio_shortcut, pooled_total, within_weighted):
                assert np.isclose(wrong(*c.args), good_loops(*c.args), rtol=1e-9)


def test_cases_cover_two_classes_rescaled_samples_and_unsorted_labels():
    cases = EXERCISES[NAME].cases()
    assert any(c.dims["K"] == 2 for c in cases) and max(c.dims["K"] for c in cases) >= 6
    lengths = [np.linalg.norm(c.args[0], axis=1) for c in cases]
    assert any(n.max() / n.min() > 20 for n in lengths)
    assert all(np.any(np.diff(c.args[1]) < 0) for c in cases)


def test_a_stub_is_not_attempted_and_exceptions_are_reported():
    def stub(H, y):
        raise NotImplementedError

    assert quiet(stub).status == "not attempted"
    r = quiet(lambda H, y: H[len(H) + 5])
    assert r.status == "error" and "IndexError" in r.message


# ----------------------------------------------------------------------------------------------
# Nothing leaks, and everything is deterministic
# ----------------------------------------------------------------------------------------------

_FLOAT = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def test_verdicts_never_print_the_expected_values(capsys):
    expected = [good_loops(*c.args) for c in EXERCISES[NAME].cases()]
    for answer in [good_loops] + [a for a, _ in MISTAKES]:
        check(NAME, answer)
    out = capsys.readouterr().out
    for value in expected:
        for digits in (3, 4, 5, 6):
            assert f"{value:.{digits}g}" not in out, (value, out)
    for token in _FLOAT.findall(out):
        if "." in token:
            mantissa = token.lstrip("+-").replace(".", "").lstrip("0").rstrip("0")
            assert len(mantissa) <= 2, (token, out)


def test_hidden_cases_are_deterministic():
    first, second = EXERCISES[NAME].cases(), EXERCISES[NAME].cases()
    for a, b in zip(first, second):
        assert all(np.array_equal(x, z) for x, z in zip(a.args, b.args))
    assert quiet(euclidean) == quiet(euclidean)
