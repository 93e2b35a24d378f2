r"""The coding exercise of the chapter "More classes than dimensions": a centred unit-norm tight frame.

* ``tight_frame(C, p)``: a ``(C, p)`` array ``V`` whose rows are unit vectors that sum to zero and
  form a tight frame of ``R^p``, ``V^T V = (C/p) I_p`` (even ``p >= 2``, ``C > p``). By the chapter's
  proposition on the smallest spread of the cosines, exactly such arrangements of ``C`` centred unit
  vectors have the smallest possible NC2 equiangularity, ``sqrt(K/(K-1) C (C-1-p) / (p (C-1)^2))``
  with ``K = C (C-1) / 2``. The harmonic frames (rows ``sqrt(2/p) (cos 2 pi j k / C, sin 2 pi j k / C)``
  for ``j = 1..p/2``) are one construction; any rotation of one, or any other frame with the three
  properties, is right.

The answer is judged by these invariants alone (plain numpy, no reference array), in this order:
shape, finite values, unit rows, zero sum, ``V^T V = (C/p) I``. A wrong answer that fails a property
is matched against the usual slips of the harmonic construction (the factor ``sqrt(2/p)`` forgotten,
frequency 0 included, the polygon padded with zeros, a frequency repeated or ``j`` and ``C - j`` both
used) and named; nothing printed contains expected values.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ._engine import Exercise, _Case, _close, _Finding, _ShapeHint

# (C, p): even p, C > p; the first case has p = 4, so that a missing sqrt(2/p) shows at once (for
# p = 2 the factor is 1), then odd and even C, C = p + 1 (the frame is then a simplex ETF), p = 2.
_FRAMES: tuple[tuple[int, int], ...] = ((10, 4), (7, 4), (9, 6), (12, 6), (5, 4), (11, 8), (10, 2))


def _frame_cases() -> list[_Case]:
    return [_Case(args=(C, p), dims={"C": C, "p": p}, note="C = p + 1" if C == p + 1 else "") for C, p in _FRAMES]


def _rank(A: np.ndarray) -> int:
    s = np.linalg.svd(A, compute_uv=False)
    return int(np.sum(s > 1e-8 * max(s.max(), 1.0)))


def _judge_tight_frame(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    C, p = case.dims["C"], case.dims["p"]
    if not np.all(np.isfinite(value)):
        return _Finding("not_finite", "the answer contains NaN or infinite values")
    norms = np.linalg.norm(value, axis=1)
    if not _close(norms, np.ones(C)):
        if _close(norms, np.full(C, np.sqrt(p / 2))):
            return _Finding("frame_missing_scale", "the rows all have length sqrt(p/2): each of the p/2 coordinate "
                            "pairs (cos, sin) has length 1, so the rows need the factor sqrt(2/p)")
        same = _close(norms, np.full(C, norms.mean()))
        return _Finding("frame_rows_not_unit", "the rows are not unit vectors" + (
            " (they all have the same length: rescale them)" if same else
            " (their lengths differ: with cosines alone, or with sines alone, they do not have a constant length)"))
    if not _close(value.sum(axis=0), np.zeros(p)):
        constant = np.flatnonzero(np.ptp(value, axis=0) < 1e-9 * max(1.0, np.abs(value).max()))
        if constant.size and np.any(np.abs(value[0, constant]) > 1e-9):
            return _Finding("frame_frequency_zero", "a coordinate has the same non-zero value in every row, as with the "
                            "frequency 0 (cos 0 = 1): it keeps the rows from summing to zero; use the frequencies "
                            "1, 2, ..., p/2")
        return _Finding("frame_not_centred", "the rows are unit vectors but do not sum to zero")
    if _close(value.T @ value, (C / p) * np.eye(p)):
        return None
    if p > 2 and _close(value[:, 2:], np.zeros((C, p - 2))):
        return _Finding("frame_padded_polygon", "only the first two coordinates are used: a polygon padded with zeros "
                        "spans a plane, not R^p, so V^T V is not (C/p) I")
    if _rank(value) < p:
        return _Finding("frame_repeated_frequency", "the rows span fewer than p dimensions: two coordinate pairs repeat "
                        "each other (a repeated frequency, or j together with C - j, which gives the same cosines and "
                        "the opposite sines); use p/2 different frequencies between 1 and (C - 1)/2")
    return _Finding("frame_not_tight", "unit rows that sum to zero, but V^T V is not (C/p) I: the frame is not tight "
                    "(its p directions do not get equal weight)")


def exercises() -> list[Exercise]:
    """The exercises of the chapter "More classes than dimensions"."""
    return [
        Exercise(
            name="tight_frame",
            signature="tight_frame(C, p) -> array of shape (C, p)",
            description="C unit vectors in R^p, one per row, that sum to zero and form a tight frame, "
                        "V^T V = (C/p) I_p (the arrangements with the smallest NC2 equiangularity); any rotation is "
                        "accepted. C, p: ints, p even, C > p.",
            arg_names=("C", "p"),
            make_cases=_frame_cases,
            shape=("C", "p"),
            judge=_judge_tight_frame,
            shape_hints=(_ShapeHint(("C", "C"), "frame_returned_gram", "a (C, C) matrix, perhaps the Gram matrix V V^T; "
                                    "return the C vectors themselves, one row of p coordinates each"),),
            other_codes=("frame_missing_scale", "frame_rows_not_unit", "frame_frequency_zero", "frame_not_centred",
                         "frame_padded_polygon", "frame_repeated_frequency", "frame_not_tight", "transposed"),
        ),
    ]


__all__ = ["exercises"]
