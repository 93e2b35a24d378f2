"""The checker of the chapter "More classes than dimensions" (tight_frame): right answers written the ways a
student would pass, every named mistake is named, nothing leaks the expected values.

Every answer below is plain numpy (or torch), written independently of ncedu.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from ncedu.exercises import EXERCISES, check
from ncedu.exercises.many_classes import exercises

NAME = "tight_frame"


def _quiet(fn):
    return check(NAME, fn, quiet=True)


# ----------------------------------------------------------------------------------------------
# Right answers
# ----------------------------------------------------------------------------------------------


def good_loops(C, p):
    rows = []
    for k in range(C):
        row = []
        for j in range(1, p // 2 + 1):
            row += [np.cos(2 * np.pi * j * k / C), np.sin(2 * np.pi * j * k / C)]
        rows.append(row)
    return np.sqrt(2 / p) * np.array(rows)                 # coordinates interleaved: (cos, sin) per frequency


def good_complex(C, p):
    # the columns j = 1..p/2 of the DFT matrix, real and imaginary parts
    F = np.exp(2j * np.pi * np.outer(np.arange(C), np.arange(1, p // 2 + 1)) / C)
    return np.sqrt(2 / p) * np.concatenate([F.real, F.imag], axis=1)


def good_rotated(C, p):
    # any rotation of a right answer is right
    Q, _ = np.linalg.qr(np.random.default_rng(C * 100 + p).standard_normal((p, p)))
    return good_complex(C, p) @ Q


def good_other_frequencies(C, p):
    # the highest frequencies below C/2 are as good (for C = 10, p = 2 the frequency 4 visits five
    # directions twice: a tight frame with repeated rows, still centred and tight)
    js = list(range((C - 1) // 2, 0, -1))[: p // 2]
    phase = 2 * np.pi * np.outer(np.arange(C), js) / C
    return np.sqrt(2 / p) * np.hstack([np.cos(phase), np.sin(phase)])


def good_torch(C, p):
    k = torch.arange(C, dtype=torch.float64)[:, None]
    j = torch.arange(1, p // 2 + 1, dtype=torch.float64)[None, :]
    phase = 2 * torch.pi * k * j / C
    return (2 / p) ** 0.5 * torch.cat([torch.cos(phase), torch.sin(phase)], dim=1)


def good_list(C, p):
    return good_loops(C, p).tolist()


@pytest.mark.parametrize("answer", [good_loops, good_complex, good_rotated, good_other_frequencies, good_torch,
                                    good_list], ids=lambda f: f.__name__)
def test_right_answers_pass(answer):
    r = _quiet(answer)
    assert r.status == "passed", r.message
    assert r.cases_passed == r.cases_total >= 5 and r.mistake is None


def test_the_exercise_is_registered_once_under_its_name():
    assert NAME in EXERCISES and [ex.name for ex in exercises()] == [NAME]


def test_the_hidden_cases_cover_what_the_exercise_is_about():
    cases = EXERCISES[NAME].cases()
    dims = [c.args for c in cases]
    assert all(p % 2 == 0 and C > p for C, p in dims)
    assert dims[0][1] > 2                                   # a missing sqrt(2/p) shows on the first case
    assert any(p == 2 for _, p in dims) and any(C == p + 1 for C, p in dims)
    assert any(C % 2 for C, _ in dims) and any(C % 2 == 0 for C, _ in dims)


def test_the_judge_is_the_definition_checked_independently():
    # an arbitrary centred unit-norm tight frame, not harmonic: the cross-polytope of R^4 (C = 8 = 2p),
    # judged through the checker's own judge on a hand-made case
    from ncedu.exercises._engine import _Case
    from ncedu.exercises.many_classes import _judge_tight_frame
    V = np.vstack([np.eye(4), -np.eye(4)])
    assert _judge_tight_frame(V, _Case(args=(8, 4), dims={"C": 8, "p": 4})) is None
    U = V.copy()
    U[0] = np.array([0.6, 0.8, 0.0, 0.0])                   # still unit, no longer centred
    assert _judge_tight_frame(U, _Case(args=(8, 4), dims={"C": 8, "p": 4})).code == "frame_not_centred"


# ----------------------------------------------------------------------------------------------
# Mistakes, as a student would make them
# ----------------------------------------------------------------------------------------------


def no_scale(C, p):
    return good_complex(C, p) * np.sqrt(p / 2)


def cosines_only(C, p):
    phase = 2 * np.pi * np.outer(np.arange(C), np.arange(1, p + 1)) / C
    return np.sqrt(2 / p) * np.cos(phase)


def frequency_zero(C, p):
    phase = 2 * np.pi * np.outer(np.arange(C), np.arange(0, p // 2)) / C      # j = 0, ..., p/2 - 1
    return np.sqrt(2 / p) * np.hstack([np.cos(phase), np.sin(phase)])


def random_unit(C, p):
    X = np.random.default_rng(0).standard_normal((C, p))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def padded_polygon(C, p):
    angles = 2 * np.pi * np.arange(C) / C
    V = np.zeros((C, p))
    V[:, 0], V[:, 1] = np.cos(angles), np.sin(angles)
    return V


def repeated_frequency(C, p):
    phase = 2 * np.pi * np.outer(np.arange(C), np.ones(p // 2)) / C          # j = 1 every time
    return np.sqrt(2 / p) * np.hstack([np.cos(phase), np.sin(phase)])


def opposite_frequencies(C, p):
    # j and C - j: the same cosines, opposite sines; fine for p = 2, rank-deficient beyond
    js = [1 if i % 2 == 0 else C - 1 for i in range(p // 2)]
    phase = 2 * np.pi * np.outer(np.arange(C), js) / C
    return np.sqrt(2 / p) * np.hstack([np.cos(phase), np.sin(phase)])


def cycled_cross_polytope(C, p):
    # +-e_1, +-e_2, ... cycled to C rows: unit, centred (C even), but not tight unless C = 2p
    basis = np.vstack([np.eye(p), -np.eye(p)])
    order = [i for pair in zip(range(p), range(p, 2 * p)) for i in pair]
    V = np.array([basis[order[k % (2 * p)]] for k in range(C)])
    if C % 2:                                                 # an odd C cannot be centred this way: fix the last
        V[-1] = -V[:-1].sum(axis=0) / np.linalg.norm(V[:-1].sum(axis=0))
    return V


def transposed(C, p):
    return good_complex(C, p).T


def gram(C, p):
    V = good_complex(C, p)
    return V @ V.T


def nan_answer(C, p):
    return np.full((C, p), np.nan)


MISTAKES = [
    (no_scale, "frame_missing_scale"),
    (cosines_only, "frame_rows_not_unit"),
    (frequency_zero, "frame_frequency_zero"),
    (random_unit, "frame_not_centred"),
    (padded_polygon, "frame_padded_polygon"),
    (repeated_frequency, "frame_repeated_frequency"),
    (opposite_frequencies, "frame_repeated_frequency"),
    (transposed, "transposed"),
    (gram, "frame_returned_gram"),
    (nan_answer, "not_finite"),
]


@pytest.mark.parametrize("answer,code", MISTAKES, ids=[f.__name__ for f, _ in MISTAKES])
def test_each_named_mistake_is_named(answer, code):
    r = _quiet(answer)
    assert r.status == "failed", r.message
    assert r.mistake == code, r.message


def test_a_frame_that_is_unit_and_centred_but_not_tight_is_named():
    r = _quiet(cycled_cross_polytope)
    assert r.status == "failed" and r.mistake in ("frame_not_tight", "frame_not_centred"), r.message
    # on the first hidden case (C = 10, p = 4, C even) the cycled cross-polytope is unit and centred
    assert r.cases_passed == 0 and r.mistake == "frame_not_tight", r.message


def test_every_advertised_mistake_is_tested_here():
    tested = {code for _, code in MISTAKES} | {"frame_not_tight"}
    assert set(EXERCISES[NAME].mistakes) == tested - {"not_finite"}      # not_finite: the engine's own code


def test_a_stub_is_not_attempted_and_an_exception_is_reported_with_the_inputs():
    def stub(C, p):
        raise NotImplementedError

    assert _quiet(stub).status == "not attempted"

    def broken(C, p):
        return np.zeros((C, p)) @ np.zeros((C, p))

    r = _quiet(broken)
    assert r.status == "error" and "C=10" in r.message and "p=4" in r.message


# ----------------------------------------------------------------------------------------------
# Nothing leaks
# ----------------------------------------------------------------------------------------------

def test_printed_verdicts_never_contain_numbers_of_the_answer(capsys):
    for answer in [good_complex] + [a for a, _ in MISTAKES] + [cycled_cross_polytope]:
        check(NAME, answer)
    out = capsys.readouterr().out
    decimals = re.findall(r"\d\.\d|\d[eE][-+]?\d", out)          # a decimal or an exponent, not "2." ending a sentence
    assert decimals == [], decimals
    for C, p in [(10, 4), (7, 4)]:
        for v in good_complex(C, p).ravel():
            for digits in (3, 4):
                assert f"{abs(v):.{digits}f}" not in out
