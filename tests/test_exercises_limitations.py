"""The checker of the limitations chapter's coding exercise (subspace_score): right answers written the ways a
student would pass, every named mistake is named, nothing leaks the expected values.

Every answer below is plain numpy (or torch), written independently of ncedu.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from ncedu.exercises import EXERCISES, check
from ncedu.exercises.limitations import exercises

NAME = "subspace_score"


def _quiet(fn):
    return check(NAME, fn, quiet=True)


# ----------------------------------------------------------------------------------------------
# Right answers
# ----------------------------------------------------------------------------------------------


def good_eigh(H_train, H, d):
    mu = H_train.mean(axis=0)
    S = (H_train - mu).T @ (H_train - mu) / len(H_train)
    values, vectors = np.linalg.eigh(S)
    V = vectors[:, -d:]                      # eigh sorts ascending: the top d are the last columns
    R = H - mu
    return np.linalg.norm(R @ V, axis=1) / np.linalg.norm(R, axis=1)


def good_svd(H_train, H, d):
    mu = H_train.mean(axis=0)
    _, _, Vt = np.linalg.svd(H_train - mu, full_matrices=False)
    P = Vt[:d].T @ Vt[:d]
    R = H - mu
    return np.linalg.norm(R @ P, axis=1) / np.linalg.norm(R, axis=1)


def good_np_cov_loop(H_train, H, d):
    # np.cov divides by N - 1: the same eigenvectors; a loop over the features, a list returned
    mu = H_train.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(H_train.T))
    order = np.argsort(values)[::-1][:d]
    V = vectors[:, order]
    out = []
    for h in H:
        r = h - mu
        out.append(float(np.sqrt(np.sum((V.T @ r) ** 2)) / np.sqrt(np.sum(r ** 2))))
    return out


def good_lstsq(H_train, H, d):
    # the projection by least squares onto the top-d eigenvectors, the cosine from Pythagoras
    mu = H_train.mean(axis=0)
    _, vectors = np.linalg.eigh(np.cov(H_train.T, bias=True))
    V = vectors[:, ::-1][:, :d]
    R = (H - mu).T
    inside = V @ np.linalg.lstsq(V, R, rcond=None)[0]
    outside = R - inside
    return np.sqrt(1.0 - np.sum(outside ** 2, axis=0) / np.sum(R ** 2, axis=0))


def good_torch(H_train, H, d):
    Ht, X = torch.from_numpy(H_train), torch.from_numpy(H)
    mu = Ht.mean(0)
    _, _, V = torch.linalg.svd(Ht - mu, full_matrices=False)
    R = X - mu
    return (R @ V[:d].T).norm(dim=1) / R.norm(dim=1)


@pytest.mark.parametrize("answer", [good_eigh, good_svd, good_np_cov_loop, good_lstsq, good_torch],
                         ids=lambda f: f.__name__)
def test_right_answers_pass(answer):
    r = _quiet(answer)
    assert r.status == "passed", r.message
    assert r.cases_passed == r.cases_total >= 5 and r.mistake is None


def test_the_exercise_is_registered_once_under_its_name():
    assert NAME in EXERCISES and [ex.name for ex in exercises()] == [NAME]


def test_the_hidden_cases_cover_what_the_exercise_is_about():
    cases = EXERCISES[NAME].cases()
    ds = {c.args[2] for c in cases}
    assert 1 in ds and any(c.args[2] == c.args[0].shape[1] - 1 for c in cases)
    assert any(np.linalg.norm(c.args[0].mean(axis=0)) > 10 for c in cases)          # far from the origin
    assert all(not np.allclose(c.args[1].mean(axis=0), c.args[0].mean(axis=0)) for c in cases)
    collapsed = [c for c in cases if "collapsed" in c.note]
    assert collapsed
    H_train = collapsed[0].args[0]
    assert len(np.unique(H_train, axis=0)) == 4                                     # four points, exactly


# ----------------------------------------------------------------------------------------------
# Mistakes, as a student would make them
# ----------------------------------------------------------------------------------------------


def _parts(H_train, H, d):
    mu = H_train.mean(axis=0)
    S = np.cov(H_train.T, bias=True)
    values, vectors = np.linalg.eigh(S)
    return mu, values, vectors


def smallest(H_train, H, d):
    mu, _, vectors = _parts(H_train, H, d)
    R = H - mu
    return np.linalg.norm(R @ vectors[:, :d], axis=1) / np.linalg.norm(R, axis=1)


def rows(H_train, H, d):
    mu, _, vectors = _parts(H_train, H, d)
    V = vectors[-d:]                          # the last d rows, as if eigh returned Vt
    R = H - mu
    return np.linalg.norm(R @ V.T, axis=1) / np.linalg.norm(R, axis=1)


def not_centred(H_train, H, d):
    _, vectors = np.linalg.eigh(H_train.T @ H_train / len(H_train))
    V = vectors[:, -d:]
    return np.linalg.norm(H @ V, axis=1) / np.linalg.norm(H, axis=1)


def feature_not_centred(H_train, H, d):
    _, _, vectors = _parts(H_train, H, d)
    V = vectors[:, -d:]
    return np.linalg.norm(H @ V, axis=1) / np.linalg.norm(H, axis=1)


def own_mean(H_train, H, d):
    _, _, vectors = _parts(H_train, H, d)
    V = vectors[:, -d:]
    R = H - H.mean(axis=0)
    return np.linalg.norm(R @ V, axis=1) / np.linalg.norm(R, axis=1)


def squared(H_train, H, d):
    mu, _, vectors = _parts(H_train, H, d)
    R = H - mu
    return np.sum((R @ vectors[:, -d:]) ** 2, axis=1) / np.sum(R ** 2, axis=1)


def residual(H_train, H, d):
    mu, _, vectors = _parts(H_train, H, d)
    V = vectors[:, -d:]
    R = H - mu
    return np.linalg.norm(R - R @ V @ V.T, axis=1) / np.linalg.norm(R, axis=1)


def not_normalised(H_train, H, d):
    mu, _, vectors = _parts(H_train, H, d)
    return np.linalg.norm((H - mu) @ vectors[:, -d:], axis=1)


def too_many(H_train, H, d):
    mu, _, vectors = _parts(H_train, H, d)
    R = H - mu
    return np.linalg.norm(R @ vectors[:, -(d + 1):], axis=1) / np.linalg.norm(R, axis=1)


def too_few(H_train, H, d):
    mu, _, vectors = _parts(H_train, H, d)
    R = H - mu
    V = vectors[:, len(mu) - d + 1:]          # the top d - 1 (nothing at all when d = 1)
    return np.linalg.norm(R @ V, axis=1) / np.linalg.norm(R, axis=1)


def standardised(H_train, H, d):
    mu, sd = H_train.mean(axis=0), H_train.std(axis=0)
    Z, X = (H_train - mu) / sd, (H - mu) / sd
    _, vectors = np.linalg.eigh(Z.T @ Z / len(Z))
    V = vectors[:, -d:]
    return np.linalg.norm(X @ V, axis=1) / np.linalg.norm(X, axis=1)


def coordinates(H_train, H, d):
    mu, _, vectors = _parts(H_train, H, d)
    return (H - mu) @ vectors[:, -d:]


def projection(H_train, H, d):
    mu, _, vectors = _parts(H_train, H, d)
    V = vectors[:, -d:]
    return (H - mu) @ V @ V.T


def training_scored(H_train, H, d):
    return good_eigh(H_train, H_train + 1e-3, d)


def above_one(H_train, H, d):
    return 1.5 * good_eigh(H_train, H, d) + 0.3


MISTAKES = [
    (smallest, "subspace_smallest_components"),
    (rows, "subspace_eigenvector_rows"),
    (not_centred, "subspace_not_centred"),
    (feature_not_centred, "subspace_feature_not_centred"),
    (own_mean, "subspace_centred_at_own_mean"),
    (squared, "subspace_squared"),
    (residual, "subspace_residual"),
    (not_normalised, "subspace_not_normalised"),
    (too_many, "subspace_one_component_too_many"),
    (too_few, "subspace_one_component_too_few"),
    (standardised, "subspace_standardised"),
    (coordinates, "subspace_returned_coordinates"),
    (projection, "subspace_returned_projection"),
    (training_scored, "subspace_scored_training_features"),
    (above_one, "subspace_outside_unit_interval"),
]


@pytest.mark.parametrize("answer,code", MISTAKES, ids=[c for _, c in MISTAKES])
def test_each_named_mistake_is_named(answer, code):
    r = _quiet(answer)
    assert r.status == "failed", r.message
    assert r.mistake == code, r.message


def test_every_advertised_mistake_is_tested_here():
    assert set(EXERCISES[NAME].mistakes) == {code for _, code in MISTAKES}


def test_a_stub_is_not_attempted_and_an_exception_is_reported_with_shapes():
    def stub(H_train, H, d):
        raise NotImplementedError

    assert _quiet(stub).status == "not attempted"

    def broken(H_train, H, d):
        return np.linalg.norm(H_train @ H, axis=1)

    r = _quiet(broken)
    assert r.status == "error" and "H_train (40, 5)" in r.message and "d=2" in r.message


# ----------------------------------------------------------------------------------------------
# Nothing leaks
# ----------------------------------------------------------------------------------------------

_FLOAT = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def test_printed_verdicts_never_contain_reference_numbers(capsys):
    ex = EXERCISES[NAME]
    for answer in [good_eigh] + [a for a, _ in MISTAKES]:
        check(NAME, answer)
    out = capsys.readouterr().out
    decimals = [t for t in _FLOAT.findall(out) if ("." in t or "e" in t.lower()) and t != "1e-06"]  # the tolerance
    assert all(len(t.lstrip("+-0.").replace(".", "")) <= 3 for t in decimals), decimals
    for case in ex.cases():
        for v in np.asarray(ex.reference(case)).ravel():
            for digits in (3, 4, 5):
                assert f"{v:.{digits}f}" not in out


def test_the_hidden_cases_and_the_verdicts_are_deterministic():
    first, second = EXERCISES[NAME].cases(), EXERCISES[NAME].cases()
    for a, b in zip(first, second):
        for x, z in zip(a.args, b.args):
            assert np.array_equal(np.asarray(x), np.asarray(z))
    assert _quiet(rows) == _quiet(rows) and _quiet(good_svd) == _quiet(good_svd)
