r"""Automatic feedback on the book's coding exercises.

A chapter asks the reader to write a small function, then checks it in the next cell::

    from ncedu.exercises import check

    def my_nc1(H, y):
        ...                      # the reader's code
        return value

    check("nc1", my_nc1)         # prints e.g. "✅ nc1: passed all 8 cases."

:func:`check` calls the function on hidden cases, generated from fixed seeds so that every run
and every reader sees the same ones: balanced and imbalanced classes, features far from the
origin, several numbers of classes ``C`` and dimensions ``p``, and small edge cases such as
``C = 2`` (and, for NC1, two classes that share a mean, so that ``Sigma_B`` has rank ``C - 2``).
It compares each answer with ``ncedu``'s own implementation (:func:`ncedu.measure`,
:func:`ncedu.class_means`, :func:`ncedu.etf_gram`, ...; the exercises of the theory chapters
7–9 live in ``ncedu/_exercises_theory.py`` with plain-numpy references) to a relative
tolerance of ``1e-6``.
On the first wrong answer it says which property is violated (a wrong shape, a matrix that is
not symmetric, a value that is not finite, ...) and, when the answer matches a common mistake
(NC1 without the division by ``C``, ``Sigma_W`` centred at the global mean, a biased standard
deviation, ...), names that mistake in plain words. It never prints the expected values.

A function that still raises ``NotImplementedError`` (the stub a student edition ships) is
reported as "not attempted"; any other exception as an "error", in one line, with the input
shapes that triggered it. The notebook cell never fails.

Graders read the returned :class:`CheckResult`; ``quiet=True`` prints nothing::

    result = check("nc1", my_nc1, quiet=True)
    result.status, result.cases_passed, result.cases_total, result.mistake

:func:`list_exercises` prints every exercise with its call signature; :data:`EXERCISES` holds
them, and ``EXERCISES[name].mistakes`` lists the mistake codes each one recognises. The
student's function receives numpy arrays (features ``(N, p)`` float64, labels ``(N,)`` int64;
for ``terminal_phase_start``, measured epochs ``(E,)`` int64 and training accuracies ``(E,)``
float64; for ``logistic_gradient`` and ``normalized_margin`` of chapter 8, samples ``(N, d)``,
labels ``(N,)`` float64 in {-1, +1} and weights ``(d,)``) or ints, and may return numpy arrays, torch tensors, lists, Python or numpy numbers
(and None, where the exercise asks for it: ``terminal_phase_start`` of a run that never
reaches zero training error).
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
import signal
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import torch

from .geometry import etf_gram as _etf_gram
from .metrics import between_class_covariance as _between_class_covariance
from .metrics import class_means as _class_means
from .metrics import global_mean as _global_mean
from .metrics import measure
from .metrics import within_class_covariance as _within_class_covariance

__all__ = ["CheckResult", "Exercise", "EXERCISES", "check", "list_exercises"]

#: Relative tolerance of every comparison (relative to the largest entry of the expected answer).
RTOL = 1e-6
#: Absolute floor of the tolerance, for answers that are (close to) zero.
ATOL = 1e-9
#: The statuses a :class:`CheckResult` can have.
STATUSES = ("passed", "failed", "not attempted", "error")

Dim = Union[str, int]


# ----------------------------------------------------------------------------------------------
# Results and the pieces of an exercise
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """The outcome of :func:`check`, for a grader to read.

    Attributes
    ----------
    name : str
        The exercise.
    status : {"passed", "failed", "not attempted", "error"}
        ``"error"`` means the student's function raised an exception (``NotImplementedError``
        on the first case means ``"not attempted"``).
    cases_passed, cases_total : int
        Hidden cases answered correctly (checking stops at the first wrong one) and their number.
    message : str
        The one-line verdict that :func:`check` prints; it never contains the expected values.
    mistake : str or None
        A short code for what went wrong (e.g. ``"nc1_missing_div_C"``, ``"wrong_shape"``,
        ``"returned_none"``); None when passed, not attempted or not diagnosed.
    passed : bool
        ``status == "passed"``.
    """

    name: str
    status: str
    cases_passed: int
    cases_total: int
    message: str
    mistake: Optional[str] = None
    passed: bool = field(init=False)
    _printed: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        object.__setattr__(self, "passed", self.status == "passed")

    def _ipython_display_(self) -> None:
        # As the last expression of a notebook cell: do not repeat the verdict check() printed.
        if not self._printed:
            print(repr(self))


@dataclass(frozen=True)
class _Finding:
    """What is wrong with one answer: a machine-readable code and a sentence for the student."""

    code: str
    message: str


@dataclass(frozen=True)
class _Mistake:
    """A plausible wrong answer: ``compute(case)`` is its value (None where it does not apply)."""

    code: str
    message: str
    compute: Callable[["_Case"], Any]


@dataclass(frozen=True)
class _ShapeHint:
    """A wrong shape that says something; ``shape`` may use the case's symbols ``"C"``, ``"p"``, ``"N"``."""

    shape: tuple[Dim, ...]
    code: str
    message: str


@dataclass(frozen=True, eq=False)
class _Case:
    """One hidden case: the arguments the student's function gets, and the data behind them."""

    args: tuple[Any, ...]
    dims: Mapping[str, int]
    note: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


_Check = Callable[[np.ndarray, _Case], Optional[_Finding]]


@dataclass(frozen=True, eq=False)
class Exercise:
    """One exercise: what the student writes, the hidden cases, and how an answer is judged.

    An answer is judged in this order: its type; its shape (``shape``, with ``shape_hints``
    naming telling wrong shapes); equality with ``reference(case)``; the wrong ``variants``
    (the first one the answer matches names the mistake); ``diagnose``; finiteness; the
    structural ``properties``; a generic verdict (wrong scale, wrong sign, wrong values).
    ``judge``, when given, replaces everything after the shape (for answers checked by
    invariants, such as a simplex ETF in any rotation). ``judge_raw``, when given, replaces all
    of it, the type included (for answers that are not arrays, such as an epoch or None).
    ``on_warning``, when given, sees the numpy warnings (overflow, invalid value) the answer
    raised on a case that it otherwise passed or answered with NaN or inf, and may name the
    mistake (a formula that overflows on large inputs, such as a naive sigmoid).

    Attributes
    ----------
    name : str
        The name passed to :func:`check`.
    signature : str
        How the student's function is called and what it returns.
    description : str
        What the function computes, and the inputs it receives.
    mistakes : tuple of str
        The codes of the mistakes this exercise recognises (a property).
    """

    name: str
    signature: str
    description: str
    arg_names: tuple[str, ...]
    make_cases: Callable[[], list[_Case]] = field(repr=False)
    shape: tuple[Dim, ...] = ()
    reference: Optional[Callable[[_Case], Any]] = field(default=None, repr=False)
    variants: tuple[_Mistake, ...] = field(default=(), repr=False)
    diagnose: Optional[_Check] = field(default=None, repr=False)
    properties: tuple[_Check, ...] = field(default=(), repr=False)
    judge: Optional[_Check] = field(default=None, repr=False)
    judge_raw: Optional[Callable[[Any, _Case], Optional[_Finding]]] = field(default=None, repr=False)
    shape_hints: tuple[_ShapeHint, ...] = field(default=(), repr=False)
    explain_error: Optional[Callable[[Exception, _Case], Optional[_Finding]]] = field(default=None, repr=False)
    on_warning: Optional[Callable[[Sequence[warnings.WarningMessage], _Case], Optional[_Finding]]] = field(
        default=None, repr=False)
    optional_args: int = 0
    other_codes: tuple[str, ...] = field(default=(), repr=False)

    @property
    def mistakes(self) -> tuple[str, ...]:
        codes = [m.code for m in self.variants] + [h.code for h in self.shape_hints] + list(self.other_codes)
        return tuple(dict.fromkeys(codes))

    def cases(self) -> list[_Case]:
        """The hidden cases, generated afresh from their fixed seeds (identical on every call)."""
        return self.make_cases()


# ----------------------------------------------------------------------------------------------
# Hidden cases
# ----------------------------------------------------------------------------------------------

# (seed, class counts, p, distance of the features' centre from the origin)
_LABELLED: tuple[tuple[int, tuple[int, ...], int, float], ...] = (
    (110, (6, 9, 12), 2, 10.0),  # p = C - 1: Sigma_B is invertible (a plain inverse still works)
    (102, (5, 12, 20, 9), 6, 50.0),
    (103, (4, 11), 3, 30.0),  # C = 2
    (104, (10, 10, 10, 10, 10), 5, 0.0),  # balanced, C = p, near the origin
    (105, (3, 6, 9, 12, 15, 30), 10, 100.0),
    (106, (7, 12, 5, 20, 9, 15, 6, 11, 25, 8), 16, 20.0),  # C = 10
    (107, (2, 2, 40), 8, 40.0),  # strongly imbalanced
    (108, (2, 3), 1, 5.0),  # the smallest: C = 2, p = 1
)

# Noisier, low-dimensional data for NC4, so that labels, NCC and network decisions disagree. Seeds
# chosen so that on every case each wrong variant differs from the answer and from the others,
# except where no data can separate them (for C = 2, the argmin of the logits is the other class).
_NC4: tuple[tuple[int, tuple[int, ...], int, float], ...] = (
    (203, (40, 60, 50), 2, 30.0),
    (206, (30, 80), 3, 40.0),  # C = 2
    (201, (25, 25, 25, 25, 25), 4, 0.0),  # balanced, near the origin
    (203, (20, 50, 16, 60, 34, 24), 6, 60.0),
    (202, (45, 45, 45, 45), 3, 6.0),  # balanced
)

_ETF_SIZES = (3, 2, 4, 5, 7, 10)
_ETF_SHAPES = ((3, 2), (2, 1), (4, 4), (5, 12), (10, 9), (7, 20), (2, 5))


def _labelled_data(
    seed: int, counts: Sequence[int], p: int, offset: float, noise: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian classes around random centres (spread 2) shifted ``offset`` from the origin; labels shuffled."""
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal(p)
    centres = offset * direction / np.linalg.norm(direction) + 2.0 * rng.standard_normal((len(counts), p))
    y = np.repeat(np.arange(len(counts)), counts)
    rng.shuffle(y)
    H = centres[y] + noise * rng.standard_normal((len(y), p))
    return H, y.astype(np.int64), centres


def _note(counts: Sequence[int], offset: float) -> str:
    words = ["balanced classes" if len(set(counts)) == 1 else "imbalanced classes"]
    if offset >= 20:
        words.append("features far from the origin")
    return ", ".join(words)


def _labelled_cases() -> list[_Case]:
    """``(H, y)``."""
    out = []
    for seed, counts, p, offset in _LABELLED:
        H, y, _ = _labelled_data(seed, counts, p, offset)
        dims = {"C": len(counts), "p": p, "N": len(y)}
        out.append(_Case(args=(H, y), dims=dims, note=_note(counts, offset), data={"H": H, "y": y}))
    return out


def _coinciding_means_case() -> _Case:
    """``(H, y)`` with two classes that share a mean, so ``rank Sigma_B = C - 2``, not ``C - 1``.

    The features are integers, and class 3 holds the rows of class 1 permuted and moved by
    integer offsets that sum to zero, so the two class means are equal exactly, in any order of
    summation: ``M`` is exactly rank-deficient and a pseudo-inverse that keeps exactly ``C - 1``
    eigenpairs inverts an eigenvalue that is pure rounding error.
    """
    seed, counts, p = 109, (12, 9, 15, 9, 10), 6
    H, y, _ = _labelled_data(seed, counts, p, 0.0)
    H = np.round(4.0 * H)
    rng = np.random.default_rng(seed)
    offsets = rng.integers(-3, 4, size=(counts[1], p)).astype(np.float64)
    offsets[-1] = -offsets[:-1].sum(0)
    H[y == 3] = H[y == 1][rng.permutation(counts[1])] + offsets
    dims = {"C": len(counts), "p": p, "N": len(y)}
    return _Case(args=(H, y), dims=dims, note="two classes share a mean (Sigma_B has rank C - 2)",
                 data={"H": H, "y": y, "rank_deficient": True})


def _nc1_cases() -> list[_Case]:
    """The labelled cases, then one whose class means span only ``C - 2`` dimensions."""
    return _labelled_cases() + [_coinciding_means_case()]


def _means_cases(min_classes: int = 2) -> list[_Case]:
    """``(M,)``: the centred means of the labelled cases, as ncedu computes them."""
    out = []
    for case in _labelled_cases():
        if case.dims["C"] >= min_classes:
            M = measure(case.data["H"], case.data["y"]).centred_means
            dims = {"C": case.dims["C"], "p": case.dims["p"]}
            out.append(_Case(args=(M,), dims=dims, note=case.note, data={**case.data, "M": M}))
    return out


def _nc3_cases() -> list[_Case]:
    """``(W, M)`` with ``W`` a noisy multiple of ``M``; the case with ``C = p`` first (it exposes a transposed ``W``)."""
    out = []
    for k, case in enumerate(_means_cases()):
        M = case.data["M"]
        W = 2.5 * M + 0.5 * np.random.default_rng(1000 + k).standard_normal(M.shape)
        out.append(_Case(args=(W, M), dims=case.dims, note=case.note, data={**case.data, "W": W}))
    return sorted(out, key=lambda c: c.dims["C"] != c.dims["p"])


def _nc4_cases() -> list[_Case]:
    """``(H, y, W, b)`` where the bias changes decisions and network, NCC and labels disagree."""
    out = []
    for seed, counts, p, offset in _NC4:
        H, y, centres = _labelled_data(seed, counts, p, offset, noise=1.5)
        rng = np.random.default_rng(seed + 1000)
        mu_G = H.mean(0)
        W = (centres - centres.mean(0)) + 0.7 * rng.standard_normal(centres.shape)
        spread = float(((H - mu_G) @ W.T).std())
        b = -W @ mu_G + 0.4 * spread * rng.standard_normal(len(counts))
        dims = {"C": len(counts), "p": p, "N": len(y)}
        out.append(_Case(args=(H, y, W, b), dims=dims, note=_note(counts, offset), data={"H": H, "y": y, "W": W, "b": b}))
    return out


def _etf_gram_cases() -> list[_Case]:
    return [_Case(args=(C,), dims={"C": C}) for C in _ETF_SIZES]


def _simplex_cases() -> list[_Case]:
    return [_Case(args=(C, p), dims={"C": C, "p": p}) for C, p in _ETF_SHAPES]


def _log_epochs(last: int, count: int) -> list[int]:
    """About ``count`` log-spaced epochs from 1 to ``last``, rounding merges topped up with the smallest missing."""
    grid = sorted(set(np.round(np.geomspace(1, last, count)).astype(int).tolist()))
    missing = [e for e in range(1, last + 1) if e not in grid][: count - len(grid)]
    return sorted(grid + missing)


def _tpt_cases() -> list[_Case]:
    """``(epochs, train_acc)``: measured epochs (strictly increasing) and training accuracies (correct / 2000).

    Ordered so that each named mistake first fails on a case that exposes it: the first case has
    accuracies just below 1.0 before the first 1.0 (a tolerance), positions that are not epochs
    (an index) and many epochs at 1.0 (the last instead of the first); the second dips below 1.0
    after reaching it (the start of the final streak); the third never reaches 1.0 (None).
    """
    n = 2000
    flagship_like = [1620, 1572, 1773, 1744, 1852, 1854, 1907, 1896, 1930, 1918, 1863, 1867, 1873, 1895, 1905,
                     1912, 1951, 1870, 1952, 1919, 1768, 1891, 1983, 1999] + [2000] * 6
    dips = [1500 + 15 * k for k in range(30)] + [2000, 1999, 1999, 1998] + [2000] * 16
    never = [1400 + 30 * k for k in range(18)] + [1999, 1995, 1997, 1990, 1996, 1998, 1998]
    specs = [
        (_log_epochs(300, 30), flagship_like, "training accuracy rises with ups and downs, then stays at 1.0"),
        (_log_epochs(350, 50), dips, "training accuracy reaches 1.0, dips below it, and returns"),
        (_log_epochs(200, 25), never, "training accuracy never reaches 1.0"),
        (list(range(1, 21)), [2000] * 20, "100% training accuracy from the first measured epoch on"),
        (list(range(10, 301, 10)), [1200 + 25 * k for k in range(29)] + [2000],
         "measured every 10 epochs; 100% training accuracy only at the last one"),
        ([1, 2, 4, 8, 16], [600, 900, 1200, 1400, 1560], "a short run, far from zero training error"),
        ([5, 10, 20, 40, 80, 160, 320], [1800, 1940, 1990, 2000, 1999, 1998, 1999],
         "training accuracy reaches 1.0 once and never again"),
        ([300], [2000], "a single measured epoch"),
    ]
    out = []
    for epochs, correct, note in specs:
        e = np.asarray(epochs, dtype=np.int64)
        acc = np.asarray(correct, dtype=np.float64) / n
        assert len(e) == len(acc) and np.all(np.diff(e) > 0)
        hit = np.flatnonzero(acc == 1.0)
        expected = int(e[hit[0]]) if hit.size else None
        out.append(_Case(args=(e, acc), dims={"E": len(e)}, note=note,
                         data={"epochs": e, "acc": acc, "expected": expected}))
    return out


# ----------------------------------------------------------------------------------------------
# Plain numpy pieces for the wrong variants (independent of the reference implementation)
# ----------------------------------------------------------------------------------------------


def _stats(case: _Case) -> dict[str, Any]:
    H, y = case.data["H"], case.data["y"]
    C = int(y.max()) + 1
    mu = np.stack([H[y == c].mean(0) for c in range(C)])
    mu_G = H.mean(0)
    return {"H": H, "y": y, "C": C, "N": len(y), "p": H.shape[1], "counts": np.bincount(y, minlength=C),
            "mu": mu, "mu_G": mu_G, "M": mu - mu_G, "R": H - mu[y], "T": H - mu_G}


def _cov(X: np.ndarray, n: float) -> np.ndarray:
    """``X^T X / n``."""
    return X.T @ X / n


def _per_class_covariances(case: _Case, ddof: int) -> list[np.ndarray]:
    s = _stats(case)
    R, y = s["R"], s["y"]
    return [_cov(R[y == c], n - ddof) if n > ddof else np.full((s["p"], s["p"]), np.nan)
            for c, n in enumerate(s["counts"])]


def _sorted_means(case: _Case) -> Optional[np.ndarray]:
    """Class means computed as if the samples came sorted by class in equal blocks."""
    s = _stats(case)
    if s["N"] % s["C"]:
        return None
    return s["H"].reshape(s["C"], s["N"] // s["C"], s["p"]).mean(1)


def _pinv_top(S: np.ndarray, rank: int) -> np.ndarray:
    """Pseudo-inverse of a symmetric PSD matrix keeping its ``rank`` largest eigenvalues."""
    lam, V = np.linalg.eigh(S)
    keep = np.argsort(lam)[::-1][:rank]
    keep = keep[lam[keep] > lam.max() * 1e-12]
    return (V[:, keep] / lam[keep]) @ V[:, keep].T


def _nc1_variant(case: _Case, *, div_C: bool = True, sw_global: bool = False, mean_of_means: bool = False,
                 freq: bool = False, sw_ddof: int = 0, sb_uncentred: bool = False) -> float:
    """NC1 with one or more of the common changes to its definition."""
    s = _stats(case)
    C, N = s["C"], s["N"]
    Sw = _cov(s["T"] if sw_global else s["R"], N - sw_ddof)
    rank = C - 1
    if mean_of_means:
        Sb = _cov(s["mu"] - s["mu"].mean(0), C)
    elif freq:
        Sb = (s["M"].T * s["counts"]) @ s["M"] / N
    elif sb_uncentred:
        Sb, rank = _cov(s["mu"], C), C
    else:
        Sb = _cov(s["M"], C)
    return float(np.trace(Sw @ _pinv_top(Sb, rank)) / (C if div_C else 1))


def _row_norms(M: np.ndarray) -> np.ndarray:
    return np.linalg.norm(M, axis=1)


def _cosine_matrix(M: np.ndarray) -> np.ndarray:
    U = M / _row_norms(M)[:, None]
    return U @ U.T


def _pair_cosines(M: np.ndarray) -> np.ndarray:
    return _cosine_matrix(M)[np.triu_indices(len(M), 1)]


def _std(x: np.ndarray, ddof: int) -> float:
    return float(np.std(x, ddof=ddof)) if x.size > ddof else float("nan")


def _std_over_mean(x: np.ndarray, ddof: int = 1) -> float:
    return _std(x, ddof) / float(np.mean(x))


def _nc3(W: np.ndarray, M: np.ndarray, norm: Any = "fro") -> float:
    return float(np.sum((W / np.linalg.norm(W, norm) - M / np.linalg.norm(M, norm)) ** 2))


def _nc3_rows(W: np.ndarray, M: np.ndarray) -> float:
    return float(np.sum((W / _row_norms(W)[:, None] - M / _row_norms(M)[:, None]) ** 2))


def _nc4_decisions(case: _Case) -> dict[str, np.ndarray]:
    """Per-sample decisions: labels, network (with/without bias, argmin), NCC (right and two wrong ways)."""
    s = _stats(case)
    H, W, b = s["H"], case.data["W"], case.data["b"]

    def nearest(centres: np.ndarray) -> np.ndarray:
        return ((H[:, None, :] - centres[None, :, :]) ** 2).sum(2).argmin(1)

    return {"labels": s["y"], "net": (H @ W.T + b).argmax(1), "net_no_bias": (H @ W.T).argmax(1),
            "net_argmin": (H @ W.T + b).argmin(1), "ncc": nearest(s["mu"]), "ncc_centred": nearest(s["M"]),
            "ncc_inner": (H @ s["mu"].T).argmax(1)}


def _mismatch(case: _Case, first: str, second: str) -> float:
    d = _nc4_decisions(case)
    return float(np.mean(d[first] != d[second]))


# ----------------------------------------------------------------------------------------------
# Answers: conversion and comparison
# ----------------------------------------------------------------------------------------------


def _as_array(raw: Any, scalar: bool) -> tuple[Optional[np.ndarray], Optional[str], Optional[_Finding]]:
    """The student's answer as a float64 array and its original dtype, or a finding about its type."""
    what = "a single number" if scalar else "a single array"
    if raw is None:
        return None, None, _Finding("returned_none", "your function returned None: did you forget `return`?")
    if isinstance(raw, tuple):
        return None, None, _Finding(
            "returned_tuple",
            f"your function returned a tuple of {len(raw)} item(s); return {what} "
            "(look for a stray comma after `return`, or return only the quantity asked for)",
        )
    boolean = (
        isinstance(raw, (bool, np.bool_))
        or (isinstance(raw, np.ndarray) and raw.dtype == np.bool_)
        or (isinstance(raw, torch.Tensor) and raw.dtype == torch.bool)
    )
    if boolean:
        return None, None, _Finding("wrong_type", f"your function returned True/False values; return {what} of floats")
    if isinstance(raw, torch.Tensor):
        t = raw.detach().to("cpu")
        if t.is_complex():
            return None, None, _Finding("wrong_type", "your function returned a complex tensor; return real numbers")
        return t.to(torch.float64).numpy(), str(t.dtype).replace("torch.", ""), None
    if isinstance(raw, (str, bytes, dict, set)) or callable(raw):
        return None, None, _Finding("wrong_type", f"your function returned a {type(raw).__name__}; return {what}")
    try:
        arr = np.asarray(raw)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.dtype.kind not in "iuf":
        kind = "complex numbers" if arr is not None and arr.dtype.kind == "c" else f"a {type(raw).__name__}"
        return None, None, _Finding("wrong_type", f"your function returned {kind}; return {what} of real numbers")
    return arr.astype(np.float64), str(arr.dtype), None


def _close(a: Any, b: Any, rtol: float = RTOL) -> bool:
    """``max |a - b| <= rtol * max |b| + ATOL``, for finite arrays of equal shape."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return False
    if a.size == 0:
        return True
    return bool(np.max(np.abs(a - b)) <= rtol * np.max(np.abs(b)) + ATOL)


def _resolve(shape: tuple[Dim, ...], dims: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(dims[d] if isinstance(d, str) else int(d) for d in shape)


def _shape_words(shape: tuple[int, ...], dims: Mapping[str, int], symbols: Optional[tuple[Dim, ...]] = None) -> str:
    """``shape (C, p) = (4, 6)``, naming sizes by the case's symbols where that is unambiguous."""
    if shape == ():
        return "a single number"
    if symbols is None:
        names = [[k for k, v in dims.items() if v == n] for n in shape]
        symbols = tuple(m[0] for m in names) if all(len(m) == 1 for m in names) else None
    if symbols and any(isinstance(s, str) for s in symbols):
        inner = ", ".join(str(s) for s in symbols) + ("," if len(symbols) == 1 else "")
        return f"shape ({inner}) = {shape}"
    return f"shape {shape}"


def _shape_finding(ex: Exercise, got: tuple[int, ...], case: _Case) -> _Finding:
    expected = _resolve(ex.shape, case.dims)
    base = f"expected {_shape_words(expected, case.dims, ex.shape)}, got {_shape_words(got, case.dims)}"
    for hint in ex.shape_hints:
        if _resolve(hint.shape, case.dims) == got:
            return _Finding(hint.code, f"{base}: {hint.message}")
    if len(got) == 2 and got == expected[::-1]:
        return _Finding("transposed", f"{base}: it looks transposed")
    return _Finding("wrong_shape", base)


def _generic_finding(value: np.ndarray, ref: np.ndarray, dtype: Optional[str]) -> _Finding:
    """What can be said about a wrong answer that matches no known mistake."""
    if dtype in ("float32", "float16", "bfloat16") and _close(value, ref, rtol=1e-3):
        return _Finding("low_precision", f"close, but your result is {dtype}: compute in float64, the dtype of the inputs")
    if value.size > 1 and float(np.sum(ref * ref)) > 0:
        k = float(np.sum(value * ref) / np.sum(ref * ref))
        if _close(value, k * ref) and not _close(k, 1.0):
            if _close(k, -1.0):
                return _Finding("wrong_sign", "every entry has the wrong sign")
            return _Finding("wrong_scale", "right up to a constant factor: check the normalisation (1/N, 1/C, ...)")
    return _Finding("wrong_value", f"the values are wrong (they differ by more than the tolerance, {RTOL:g} relative)")


def _judge(ex: Exercise, raw: Any, case: _Case) -> Optional[_Finding]:
    """None if ``raw`` is a right answer to ``case``, else what is wrong with it."""
    if ex.judge_raw is not None:
        return ex.judge_raw(raw, case)
    scalar = ex.shape == ()
    value, dtype, finding = _as_array(raw, scalar)
    if finding is not None:
        return finding
    if scalar and value.size == 1:
        value = value.reshape(())
    if value.shape != _resolve(ex.shape, case.dims):
        return _shape_finding(ex, value.shape, case)
    if ex.judge is not None:
        return ex.judge(value, case)
    ref = np.asarray(ex.reference(case), dtype=np.float64)
    if _close(value, ref):
        return None
    for mistake in ex.variants:
        with np.errstate(all="ignore"):
            alt = mistake.compute(case)
        if alt is not None and np.shape(alt) == ref.shape and not _close(alt, ref) and _close(value, alt):
            return _Finding(mistake.code, mistake.message)
    if ex.diagnose is not None and (finding := ex.diagnose(value, case)) is not None:
        return finding
    if not np.all(np.isfinite(value)):
        return _Finding("not_finite", "the answer contains NaN or infinite values")
    for prop in ex.properties:
        if (finding := prop(value, case)) is not None:
            return finding
    return _generic_finding(value, ref, dtype)


# ----------------------------------------------------------------------------------------------
# Structural properties and exercise-specific judges
# ----------------------------------------------------------------------------------------------


def _symmetric(what: str) -> _Check:
    def prop(value: np.ndarray, case: _Case) -> Optional[_Finding]:
        if not _close(value, value.T):
            return _Finding("not_symmetric", f"the matrix is not symmetric, but {what} always is")
        return None

    return prop


def _psd(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    lam = np.linalg.eigvalsh((value + value.T) / 2)
    if lam.min() < -RTOL * max(abs(lam).max(), 1.0):
        return _Finding("not_positive_semidefinite", "the matrix has a negative eigenvalue, but a covariance cannot")
    return None


def _non_negative(what: str) -> _Check:
    def prop(value: np.ndarray, case: _Case) -> Optional[_Finding]:
        if float(value) < -ATOL:
            return _Finding("negative_value", f"the value is negative, but {what} can never be")
        return None

    return prop


def _fraction(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    if not 0.0 <= float(value) <= 1.0:
        return _Finding("not_a_fraction", "the value is not between 0 and 1, but NC4 is a fraction of the samples")
    return None


def _rows_permuted(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    ref = _class_means(case.data["H"], case.data["y"])
    order = [int(np.argmin(np.abs(ref - row).max(1))) for row in value]
    if sorted(order) == list(range(len(ref))) and _close(value, ref[order]):
        return _Finding("class_means_wrong_order", "the right means in the wrong order: row c must be the mean of class c")
    return None


_PLAIN_INVERSE = (
    "this looks like a plain inverse of Sigma_B: Sigma_B has rank C - 1, smaller than p here, so it has no "
    "inverse; use the Moore-Penrose pseudo-inverse (np.linalg.pinv)"
)


_FIXED_RANK = (
    "here two classes share a mean, so Sigma_B has rank C - 2, not C - 1: keeping exactly C - 1 "
    "eigenpairs inverts an eigenvalue that is only rounding error. Treat the eigenvalues below a small "
    "tolerance times the largest as zero (as np.linalg.pinv does)"
)


def _nc1_diagnose(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    """A plain inverse of a singular Sigma_B gives a huge, negative or non-finite NC1; so does
    inverting exactly C - 1 eigenvalues when the class means span fewer dimensions."""
    if case.dims["p"] <= case.dims["C"] - 1:
        return None
    v, ref = float(value), float(measure(case.data["H"], case.data["y"]).nc1)
    if not np.isfinite(v) or v < 0 or abs(v) > 1e3 * ref:
        if case.data.get("rank_deficient"):
            return _Finding("nc1_fixed_rank", _FIXED_RANK)
        return _Finding("nc1_plain_inverse", _PLAIN_INVERSE)
    return None


def _nc1_error(err: Exception, case: _Case) -> Optional[_Finding]:
    if isinstance(err, np.linalg.LinAlgError):
        return _Finding("nc1_plain_inverse", _PLAIN_INVERSE)
    return None


def _unit_diagonal(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    if not _close(np.diag(value), np.ones(len(value))):
        return _Finding("etf_gram_not_unit_diagonal", "the diagonal is not all ones, but the vectors are unit vectors")
    return None


def _constant_offdiagonal(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    off = value[~np.eye(len(value), dtype=bool)]
    if not _close(off, np.full_like(off, off.mean())):
        return _Finding("etf_gram_offdiagonal_not_constant", "the off-diagonal entries are not all equal, but the frame is "
                        "equiangular")
    return _Finding("etf_gram_wrong_offdiagonal", "the off-diagonal entries are equal but have the wrong value: the C unit "
                    "vectors sum to zero, so every row of their Gram matrix sums to zero")


def _judge_simplex_etf(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    """Invariants only: any rotation of a simplex ETF is right."""
    C = case.dims["C"]
    if not np.all(np.isfinite(value)):
        return _Finding("not_finite", "the answer contains NaN or infinite values")
    norms = _row_norms(value)
    if not _close(norms, np.ones(C)):
        same = _close(norms, np.full(C, norms.mean()))
        return _Finding("etf_rows_not_unit", "the rows are not unit vectors" + (" (they all have the same norm: rescale "
                                                                                 "them)" if same else ""))
    if _close(value @ value.T, _etf_gram(C)):
        return None
    if not _close(value.sum(0), np.zeros(case.dims["p"])):
        return _Finding("etf_not_centred", "the rows are unit vectors but do not sum to zero: a simplex ETF is centred, "
                        "and that is what makes its common cosine as negative as possible")
    return _Finding("etf_not_equiangular", "the rows are unit vectors summing to zero, but the angles between pairs differ")


def _judge_terminal_phase(raw: Any, case: _Case) -> Optional[_Finding]:
    """An epoch (any real type, or a one-element array) or None; the mistakes in ``_TPT_VARIANTS`` named."""
    expected, epochs, acc = case.data["expected"], case.data["epochs"], case.data["acc"]
    if raw is None:
        if expected is None:
            return None
        return _Finding("returned_none", "your function returned None, but training accuracy reaches 1.0 in this case "
                        "(train_acc holds fractions between 0 and 1, not percentages; and check that you `return` "
                        "the epoch)")
    value, _, finding = _as_array(raw, scalar=True)
    if finding is not None:
        if finding.code == "wrong_type":
            return _Finding("wrong_type", finding.message.split(";")[0] + "; return an epoch (an int) or None")
        return finding
    if value.size == 0:
        if expected is None:
            return _Finding("tpt_not_none_when_never", "your function returned an empty array; when training accuracy "
                            "never reaches 1.0, return None")
        return _Finding("wrong_shape", "your function returned an empty array; return the epoch, a single int")
    if value.size != 1:
        return _Finding("wrong_shape", f"expected a single epoch, got {value.size} numbers: return only the first "
                        "epoch with training accuracy 1.0")
    v = float(value.reshape(()))
    if expected is not None and v == expected:
        return None
    for mistake in _TPT_VARIANTS:
        alt = mistake.compute(case)
        if alt is not None and alt != expected and v == alt:
            return _Finding(mistake.code, mistake.message)
    if expected is None:
        return _Finding("tpt_not_none_when_never", "training accuracy never reaches 1.0 in this case, so the terminal "
                        "phase never starts: return None, not a number standing for 'never' (such as -1, 0 or NaN)")
    at = np.flatnonzero(epochs == v)
    if at.size == 0:
        return _Finding("not_a_measured_epoch", "the value is not one of the measured epochs: return an entry of "
                        "`epochs`")
    if acc[at[0]] < 1.0:
        return _Finding("tpt_threshold_below_one", "training accuracy at the epoch you returned is below 1.0 (as with "
                        "a tolerance such as train_acc > 0.99): the terminal phase starts at zero training error, "
                        "the first epoch where train_acc == 1.0 exactly")
    if v > expected:
        return _Finding("tpt_not_first", "training accuracy is 1.0 at the epoch you returned, but it is not the first "
                        "such epoch")
    return _Finding("wrong_value", "that is not the first measured epoch with training accuracy 1.0")


# ----------------------------------------------------------------------------------------------
# The wrong variants of each exercise, in the order they are tried
# ----------------------------------------------------------------------------------------------


def _m(code: str, message: str, compute: Callable[[_Case], Any]) -> _Mistake:
    return _Mistake(code, message, compute)


def _S(case: _Case, key: str) -> Any:
    return _stats(case)[key]


_CLASS_MEANS_VARIANTS = (
    _m("class_means_centred", "looks like the centred means mu_c - mu_G; this exercise asks for the class means mu_c",
       lambda c: _S(c, "M")),
    _m("class_means_sums", "looks like the sums of each class's features, not their means",
       lambda c: _S(c, "mu") * _S(c, "counts")[:, None]),
    _m("class_means_divided_by_N", "looks like each class sum divided by N; divide by the class size n_c instead",
       lambda c: _S(c, "mu") * _S(c, "counts")[:, None] / _S(c, "N")),
    _m("class_means_assumes_sorted_labels", "looks like the samples were assumed sorted by class in equal blocks; "
       "select each class's rows with the labels, e.g. H[y == c]", _sorted_means),
)

_GLOBAL_MEAN_VARIANTS = (
    _m("global_mean_of_class_means", "looks like the mean of the class means; with imbalanced classes that differs "
       "from the mean of all samples, which is what mu_G is", lambda c: _S(c, "mu").mean(0)),
)

_SIGMA_W_VARIANTS = (
    _m("sigma_w_centred_at_global_mean", "looks like the deviations were taken from the global mean mu_G: that is the "
       "total covariance Sigma_T; Sigma_W centres each sample at its own class mean mu_{y_i}",
       lambda c: _cov(_S(c, "T"), _S(c, "N"))),
    _m("sigma_w_centred_at_global_mean", "looks like np.cov of all the features: that is the total covariance (centred "
       "at mu_G, divided by N - 1); Sigma_W centres each sample at its class mean and divides by N",
       lambda c: _cov(_S(c, "T"), _S(c, "N") - 1)),
    _m("sigma_w_divided_by_n_minus_1", "looks like a division by N - 1; Sigma_W divides by N",
       lambda c: _cov(_S(c, "R"), _S(c, "N") - 1)),
    _m("sigma_w_missing_div_N", "looks like the sum of the outer products without the division by N",
       lambda c: _cov(_S(c, "R"), 1)),
    _m("sigma_w_per_class_average", "looks like the average of the C class covariances, which weighs the samples "
       "unequally when classes are imbalanced; sum over all samples and divide by N",
       lambda c: np.mean(_per_class_covariances(c, 0), axis=0)),
    _m("sigma_w_per_class_average_ddof1", "looks like the average of per-class np.cov (1/(n_c - 1) each); sum over all "
       "samples and divide by N", lambda c: np.mean(_per_class_covariances(c, 1), axis=0)),
    _m("sigma_w_per_class_sum", "looks like the sum of the C class covariances; sum the outer products over all "
       "samples and divide once by N", lambda c: np.sum(_per_class_covariances(c, 0), axis=0)),
    _m("sigma_w_not_centred", "looks like the features were not centred at all (h_i h_i^T); subtract each sample's "
       "class mean", lambda c: _cov(_S(c, "H"), _S(c, "N"))),
)

_SIGMA_B_VARIANTS = (
    _m("sigma_b_not_centred", "looks like the class means were not centred: use mu_c - mu_G, not mu_c",
       lambda c: _cov(_S(c, "mu"), _S(c, "C"))),
    _m("sigma_b_class_frequency_weights", "looks like the classes were weighted by their frequency n_c/N (or the sum "
       "ran over samples); Sigma_B gives every class the same weight 1/C",
       lambda c: (_S(c, "M").T * _S(c, "counts")) @ _S(c, "M") / _S(c, "N")),
    _m("sigma_b_global_mean_of_class_means", "looks like the means were centred at the mean of the class means; mu_G "
       "is the mean of all samples, which differs for imbalanced classes",
       lambda c: _cov(_S(c, "mu") - _S(c, "mu").mean(0), _S(c, "C"))),
    _m("sigma_b_np_cov_of_means", "looks like np.cov of the class means: that divides by C - 1 and centres at the mean "
       "of the class means; Sigma_B divides by C and centres at mu_G",
       lambda c: _cov(_S(c, "mu") - _S(c, "mu").mean(0), _S(c, "C") - 1)),
    _m("sigma_b_divided_by_C_minus_1", "looks like a division by C - 1; Sigma_B divides by C",
       lambda c: _cov(_S(c, "M"), _S(c, "C") - 1)),
    _m("sigma_b_missing_div_C", "looks like the sum over classes without the division by C",
       lambda c: _cov(_S(c, "M"), 1)),
    _m("sigma_b_total_covariance", "looks like the total covariance of all samples (Sigma_T); Sigma_B uses only the "
       "class means", lambda c: _cov(_S(c, "T"), _S(c, "N"))),
)

_NC1_VARIANTS = (
    _m("nc1_missing_div_C", "looks like NC1 without the division by C", lambda c: _nc1_variant(c, div_C=False)),
    _m("nc1_sigma_w_centred_at_global_mean", "looks like Sigma_W was centred at the global mean (that makes it "
       "Sigma_T); centre each sample at its class mean", lambda c: _nc1_variant(c, sw_global=True)),
    _m("nc1_trace_ratio", "looks like Tr(Sigma_W) / Tr(Sigma_B), a different (simpler) measure; NC1 is "
       "Tr(Sigma_W Sigma_B^+) / C",
       lambda c: float(np.sum(_S(c, "R") ** 2) / _S(c, "N") / (np.sum(_S(c, "M") ** 2) / _S(c, "C")))),
    _m("nc1_global_mean_of_class_means", "looks like Sigma_B was centred at the mean of the class means; mu_G is the "
       "mean of all samples (they differ for imbalanced classes)", lambda c: _nc1_variant(c, mean_of_means=True)),
    _m("nc1_authors_notebook_convention", "looks like the authors' notebook convention (no division by C, mu_G the "
       "mean of the class means); this book follows the paper",
       lambda c: _nc1_variant(c, div_C=False, mean_of_means=True)),
    _m("nc1_sigma_b_class_frequency_weights", "looks like Sigma_B weighted the classes by their frequency; it gives "
       "each class weight 1/C", lambda c: _nc1_variant(c, freq=True)),
    _m("nc1_sigma_w_divided_by_n_minus_1", "looks like Sigma_W was divided by N - 1; divide by N",
       lambda c: _nc1_variant(c, sw_ddof=1)),
    _m("nc1_sigma_b_not_centred", "looks like Sigma_B was built from the uncentred class means mu_c; use mu_c - mu_G",
       lambda c: _nc1_variant(c, sb_uncentred=True)),
)


def _gram(C: int, diagonal: float, off: float) -> np.ndarray:
    return np.where(np.eye(C, dtype=bool), diagonal, off)


_ETF_GRAM_VARIANTS = (
    _m("etf_gram_wrong_offdiagonal", "looks like off-diagonal entries -1/C: with ones on the diagonal the rows of the "
       "Gram matrix must sum to zero (the vectors sum to zero), and -1/C does not achieve that",
       lambda c: _gram(c.dims["C"], 1.0, -1.0 / c.dims["C"])),
    _m("etf_gram_wrong_offdiagonal", "the off-diagonal entries have the wrong sign: vectors that sum to zero must have "
       "negative inner products", lambda c: _gram(c.dims["C"], 1.0, 1.0 / (c.dims["C"] - 1))),
    _m("etf_gram_not_unit_diagonal", "looks like the centring matrix I - 11^T/C: its diagonal is not 1; rescale it so "
       "that the vectors have unit norm", lambda c: _gram(c.dims["C"], 1.0 - 1.0 / c.dims["C"], -1.0 / c.dims["C"])),
    _m("etf_gram_not_unit_diagonal", "the diagonal is zero, but it holds the squared norms of unit vectors",
       lambda c: _gram(c.dims["C"], 0.0, -1.0 / (c.dims["C"] - 1))),
)

_RECENTRED = ("looks like M was centred again at the mean of its rows; M is already centred at the global mean mu_G "
              "(its rows need not average to zero when classes are imbalanced): use it as given")
_BIASED = "looks like the biased standard deviation (ddof=0, numpy's default); use ddof=1"

_EQUINORM_VARIANTS = (
    _m("std_biased", _BIASED, lambda c: _std_over_mean(_row_norms(c.data["M"]), ddof=0)),
    _m("means_recentred", _RECENTRED, lambda c: _std_over_mean(_row_norms(c.data["M"] - c.data["M"].mean(0)))),
    _m("equinorm_not_divided_by_mean", "looks like the standard deviation of the norms without the division by "
       "their mean", lambda c: _std(_row_norms(c.data["M"]), 1)),
    _m("equinorm_inverted", "looks like mean / std; equinorm is std / mean",
       lambda c: 1.0 / _std_over_mean(_row_norms(c.data["M"]))),
    _m("equinorm_squared_norms", "looks like squared norms were used; use the norms ||M_c||",
       lambda c: _std_over_mean(_row_norms(c.data["M"]) ** 2)),
    _m("norms_over_wrong_axis", "looks like the norms of the columns; take the norm of each row (axis=1)",
       lambda c: _std_over_mean(np.linalg.norm(c.data["M"], axis=0))),
)

_DIAGONAL = "looks like the diagonal cosines (each class with itself, always 1) were included; use only the pairs c < c'"

_EQUIANGULARITY_VARIANTS = (
    _m("std_biased", _BIASED, lambda c: _std(_pair_cosines(c.data["M"]), 0)),
    _m("cosines_include_diagonal", _DIAGONAL, lambda c: _std(_cosine_matrix(c.data["M"]).ravel(), 1)),
    _m("cosines_include_diagonal", _DIAGONAL, lambda c: _std(_cosine_matrix(c.data["M"]).ravel(), 0)),
    _m("pairs_counted_twice", "looks like every pair was counted twice (c != c' instead of c < c'); with ddof=1 that "
       "changes the value",
       lambda c: _std(_cosine_matrix(c.data["M"])[~np.eye(c.dims["C"], dtype=bool)], 1)),
    _m("dot_products_not_cosines", "looks like inner products M_c . M_c' without dividing by the norms",
       lambda c: _std((c.data["M"] @ c.data["M"].T)[np.triu_indices(c.dims["C"], 1)], 1)),
    _m("means_recentred", _RECENTRED, lambda c: _std(_pair_cosines(c.data["M"] - c.data["M"].mean(0)), 1)),
    _m("maxangle_instead_of_std", "looks like the mean of |cos + 1/(C-1)| (the max-angle measure); this exercise asks "
       "for the standard deviation of the cosines",
       lambda c: float(np.mean(np.abs(_pair_cosines(c.data["M"]) + 1 / (c.dims["C"] - 1))))),
    _m("angles_not_cosines", "looks like the standard deviation of the angles (arccos); use the cosines themselves",
       lambda c: _std(np.arccos(np.clip(_pair_cosines(c.data["M"]), -1, 1)), 1)),
)

_NC3_VARIANTS = (
    _m("nc3_not_squared", "looks like the distance without the square; NC3 is the squared Frobenius distance",
       lambda c: float(np.sqrt(_nc3(c.data["W"], c.data["M"])))),
    _m("nc3_W_transposed", "looks like W was transposed; W and M are both (C, p), one row per class",
       lambda c: _nc3(c.data["W"].T, c.data["M"]) if c.dims["C"] == c.dims["p"] else None),
    _m("nc3_unnormalised", "looks like W and M were compared without dividing each by its Frobenius norm",
       lambda c: float(np.sum((c.data["W"] - c.data["M"]) ** 2))),
    _m("nc3_unnormalised", "looks like ||W - M||_F: divide W and M by their Frobenius norms first, and square the "
       "distance", lambda c: float(np.linalg.norm(c.data["W"] - c.data["M"]))),
    _m("nc3_wrong_norm", "looks like W and M were divided by their spectral norms (np.linalg.norm(X, 2)); use the "
       "Frobenius norm", lambda c: _nc3(c.data["W"], c.data["M"], 2)),
    _m("nc3_mean_instead_of_sum", "looks like the mean of the squared entries; NC3 is their sum",
       lambda c: _nc3(c.data["W"], c.data["M"]) / c.data["W"].size),
    _m("nc3_rows_normalised", "looks like each row was normalised; NC3 divides the whole matrices by their Frobenius "
       "norms", lambda c: _nc3_rows(c.data["W"], c.data["M"])),
    _m("nc3_rows_normalised", "looks like each row was normalised first; NC3 divides the whole matrices by their "
       "Frobenius norms, nothing else", lambda c: _nc3_rows(c.data["W"], c.data["M"]) / c.dims["C"]),
)

_VS_NETWORK = "NC4 compares the nearest-class-centre decision with the network's decision, not with the labels"

_NC4_VARIANTS = (
    _m("nc4_agreement_instead_of_mismatch", "looks like the fraction of samples where the two decisions agree; NC4 is "
       "the fraction where they differ", lambda c: 1.0 - _mismatch(c, "net", "ncc")),
    _m("nc4_bias_ignored", "looks like the bias b was left out of the network's decision argmax_c (w_c . h + b_c)",
       lambda c: _mismatch(c, "net_no_bias", "ncc")),
    _m("nc4_agreement_and_bias_ignored", "looks like the agreement rate with the bias left out; NC4 is the mismatch "
       "rate, with the bias in the network's decision", lambda c: 1.0 - _mismatch(c, "net_no_bias", "ncc")),
    _m("nc4_against_labels", "looks like the nearest-class-centre error against the true labels; " + _VS_NETWORK,
       lambda c: _mismatch(c, "labels", "ncc")),
    _m("nc4_against_labels", "looks like the nearest-class-centre accuracy against the true labels; " + _VS_NETWORK,
       lambda c: 1.0 - _mismatch(c, "labels", "ncc")),
    _m("nc4_against_labels", "looks like the network's error against the true labels; " + _VS_NETWORK,
       lambda c: _mismatch(c, "labels", "net")),
    _m("nc4_against_labels", "looks like the network's accuracy against the true labels; " + _VS_NETWORK,
       lambda c: 1.0 - _mismatch(c, "labels", "net")),
    _m("nc4_count_not_fraction", "looks like the number of mismatches; NC4 is their fraction (divide by N)",
       lambda c: _mismatch(c, "net", "ncc") * c.dims["N"]),
    _m("nc4_percentage", "looks like a percentage; NC4 is a fraction between 0 and 1",
       lambda c: 100.0 * _mismatch(c, "net", "ncc")),
    _m("nc4_ncc_centred_means", "looks like the nearest centred mean mu_c - mu_G; the nearest class centre is the "
       "nearest class mean mu_c", lambda c: _mismatch(c, "net", "ncc_centred")),
    _m("nc4_ncc_by_inner_product", "looks like the NCC decision was argmax_c h . mu_c; the nearest centre minimises "
       "the distance ||h - mu_c||", lambda c: _mismatch(c, "net", "ncc_inner")),
    _m("nc4_network_argmin", "looks like the network decision used the argmin of the logits; it is the argmax",
       lambda c: _mismatch(c, "net_argmin", "ncc")),
)


def _tpt_index(case: _Case, shift: int) -> Optional[int]:
    hit = np.flatnonzero(case.data["acc"] == 1.0)
    return int(hit[0]) + shift if hit.size else None


def _tpt_last(case: _Case) -> Optional[int]:
    hit = np.flatnonzero(case.data["acc"] == 1.0)
    return int(case.data["epochs"][hit[-1]]) if hit.size else None


def _tpt_final_streak(case: _Case) -> Optional[int]:
    """The first epoch from which training accuracy stays at 1.0 until the end (None if it ends below 1.0)."""
    below = np.flatnonzero(case.data["acc"] < 1.0)
    start = int(below[-1]) + 1 if below.size else 0
    return int(case.data["epochs"][start]) if start < len(case.data["epochs"]) else None


def _if_never(case: _Case, value: Callable[[], int]) -> Optional[int]:
    return int(value()) if case.data["expected"] is None else None


_TPT_VARIANTS = (
    _m("tpt_index_not_epoch", "looks like the position i of the first epoch at 1.0 in the arrays, not the epoch "
       "itself: return epochs[i]", lambda c: _tpt_index(c, 0)),
    _m("tpt_index_not_epoch", "looks like the position in the arrays plus one, which is the epoch only when every "
       "epoch from 1 on was measured (the paper measured at log-spaced epochs): return epochs[i]",
       lambda c: _tpt_index(c, 1)),
    _m("tpt_last_epoch_at_one", "looks like the last epoch with training accuracy 1.0; the terminal phase starts at the "
       "first one (a loop without `break`?)", _tpt_last),
    _m("tpt_start_of_last_streak", "looks like the epoch from which training accuracy stays at 1.0 until the end; the "
       "terminal phase starts at the first epoch with accuracy 1.0, even if a later epoch dips below it",
       _tpt_final_streak),
    _m("tpt_argmax_all_false", "training accuracy never reaches 1.0 here, so return None; you returned the first "
       "epoch, which is what epochs[np.argmax(train_acc == 1)] gives when no entry is True (np.argmax of an "
       "all-False array is 0): check that some epoch reaches 1.0 first",
       lambda c: _if_never(c, lambda: c.data["epochs"][0])),
    _m("tpt_not_none_when_never", "looks like the epoch of the highest training accuracy; here it never reaches 1.0, "
       "so there is no terminal phase: return None",
       lambda c: _if_never(c, lambda: c.data["epochs"][np.argmax(c.data["acc"])])),
    _m("tpt_not_none_when_never", "looks like the last measured epoch; training accuracy never reaches 1.0 here, so "
       "there is no terminal phase: return None", lambda c: _if_never(c, lambda: c.data["epochs"][-1])),
)


# ----------------------------------------------------------------------------------------------
# The registry
# ----------------------------------------------------------------------------------------------

_HY = "H: (N, p) float64 features; y: (N,) int labels in 0..C-1 (every class occurs, in no particular order)."
_M = "M: (C, p) float64 centred class means, row c = mu_c - mu_G (mu_G the sample mean)."


def _ref_measure(attr: str) -> Callable[[_Case], float]:
    """The reference: an attribute of :func:`ncedu.measure` on the case's data."""

    def ref(case: _Case) -> float:
        d = case.data
        return getattr(measure(d["H"], d["y"], d.get("W"), d.get("b")), attr)

    return ref


def _registry() -> dict[str, Exercise]:
    def hy(case: _Case) -> tuple[np.ndarray, np.ndarray]:
        return case.data["H"], case.data["y"]

    exercises = [
        Exercise(
            name="class_means",
            signature="class_means(H, y) -> array of shape (C, p)",
            description="Row c is the mean mu_c of the features of class c. " + _HY,
            arg_names=("H", "y"),
            make_cases=_labelled_cases,
            shape=("C", "p"),
            reference=lambda c: _class_means(*hy(c)),
            variants=_CLASS_MEANS_VARIANTS,
            properties=(_rows_permuted,),
            shape_hints=(
                _ShapeHint(("C",), "wrong_shape", "one number per class, but each class mean is a vector of p numbers"),
                _ShapeHint(("p",), "wrong_shape", "that is a single mean vector; return one row per class"),
            ),
            other_codes=("transposed", "class_means_wrong_order"),
        ),
        Exercise(
            name="global_mean",
            signature="global_mean(H, y) -> array of shape (p,)   [global_mean(H) is accepted too]",
            description="The global mean mu_G = (1/N) sum_i h_i of all N samples. " + _HY,
            arg_names=("H", "y"),
            make_cases=_labelled_cases,
            shape=("p",),
            reference=lambda c: _global_mean(c.data["H"]),
            variants=_GLOBAL_MEAN_VARIANTS,
            shape_hints=(
                _ShapeHint(("N",), "wrong_axis", "that is one number per sample: average over the samples (axis=0)"),
                _ShapeHint((1, "p"), "wrong_shape", "return a 1-D array (drop keepdims=True, or take row 0)"),
                _ShapeHint(("C", "p"), "wrong_shape", "that looks like one mean per class; mu_G is a single vector"),
            ),
            optional_args=1,
        ),
        Exercise(
            name="within_class_covariance",
            signature="within_class_covariance(H, y) -> array of shape (p, p)",
            description="Sigma_W = (1/N) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T, centred at each sample's class "
                        "mean. " + _HY,
            arg_names=("H", "y"),
            make_cases=_labelled_cases,
            shape=("p", "p"),
            reference=lambda c: _within_class_covariance(*hy(c)),
            variants=_SIGMA_W_VARIANTS,
            properties=(_symmetric("a covariance matrix"), _psd),
            shape_hints=(_ShapeHint(("N", "N"), "outer_product_transposed", "that is R R^T, one entry per pair of "
                                    "samples; the covariance is R^T R / N, one entry per pair of feature dimensions"),),
            other_codes=("not_symmetric",),
        ),
        Exercise(
            name="between_class_covariance",
            signature="between_class_covariance(H, y) -> array of shape (p, p)",
            description="Sigma_B = (1/C) sum_c (mu_c - mu_G)(mu_c - mu_G)^T with mu_G the global (sample) mean. " + _HY,
            arg_names=("H", "y"),
            make_cases=_labelled_cases,
            shape=("p", "p"),
            reference=lambda c: _between_class_covariance(*hy(c)),
            variants=_SIGMA_B_VARIANTS,
            properties=(_symmetric("a covariance matrix"), _psd),
            shape_hints=(_ShapeHint(("C", "C"), "outer_product_transposed", "that is M M^T, one entry per pair of "
                                    "classes; Sigma_B is M^T M / C, one entry per pair of feature dimensions"),),
            other_codes=("not_symmetric",),
        ),
        Exercise(
            name="nc1",
            signature="nc1(H, y) -> float",
            description="NC1 = Tr(Sigma_W Sigma_B^+) / C, with Sigma_B^+ the Moore-Penrose pseudo-inverse. " + _HY,
            arg_names=("H", "y"),
            make_cases=_nc1_cases,
            reference=_ref_measure("nc1"),
            variants=_NC1_VARIANTS,
            diagnose=_nc1_diagnose,
            properties=(_non_negative("NC1"),),
            shape_hints=(_ShapeHint(("p", "p"), "wrong_shape", "a matrix, but NC1 is a trace divided by C"),),
            explain_error=_nc1_error,
            other_codes=("nc1_plain_inverse", "nc1_fixed_rank"),
        ),
        Exercise(
            name="etf_gram",
            signature="etf_gram(C) -> array of shape (C, C)",
            description="The Gram matrix V V^T of a simplex ETF of C unit vectors (C: int >= 2).",
            arg_names=("C",),
            make_cases=_etf_gram_cases,
            shape=("C", "C"),
            reference=lambda c: _etf_gram(c.dims["C"]),
            variants=_ETF_GRAM_VARIANTS,
            properties=(_symmetric("a Gram matrix"), _unit_diagonal, _constant_offdiagonal),
            other_codes=("etf_gram_offdiagonal_not_constant", "not_symmetric"),
        ),
        Exercise(
            name="simplex_etf",
            signature="simplex_etf(C, p) -> array of shape (C, p)",
            description="C unit vectors in R^p (p >= C - 1), one per row, with every pairwise cosine -1/(C-1); any "
                        "rotation is accepted. C, p: ints.",
            arg_names=("C", "p"),
            make_cases=_simplex_cases,
            shape=("C", "p"),
            judge=_judge_simplex_etf,
            shape_hints=(_ShapeHint(("C", "C"), "wrong_shape", "C columns, but the frame lives in R^p: p columns"),),
            other_codes=("etf_rows_not_unit", "etf_not_centred", "etf_not_equiangular", "transposed"),
        ),
        Exercise(
            name="nc2_equinorm",
            signature="nc2_equinorm(M) -> float",
            description="std_c ||M_c|| / mean_c ||M_c|| over the rows of M, with the unbiased std (ddof=1). " + _M,
            arg_names=("M",),
            make_cases=_means_cases,
            reference=_ref_measure("nc2_equinorm_means"),
            variants=_EQUINORM_VARIANTS,
            properties=(_non_negative("a standard deviation over a mean of norms"),),
            shape_hints=(_ShapeHint(("C",), "wrong_shape", "one value per class; combine them into a single number"),),
        ),
        Exercise(
            name="nc2_equiangularity",
            signature="nc2_equiangularity(M) -> float",
            description="The unbiased std (ddof=1) of cos(M_c, M_c') over the C(C-1)/2 pairs c < c'. " + _M
                        + " Here C >= 3.",
            arg_names=("M",),
            make_cases=lambda: _means_cases(min_classes=3),
            reference=_ref_measure("nc2_equiangular_means"),
            variants=_EQUIANGULARITY_VARIANTS,
            properties=(_non_negative("a standard deviation"),),
            shape_hints=(_ShapeHint(("C", "C"), "wrong_shape", "the matrix of cosines; return the std over the pairs "
                                    "c < c'"),),
        ),
        Exercise(
            name="nc3",
            signature="nc3(W, M) -> float",
            description="NC3 = || W/||W||_F - M/||M||_F ||_F^2. W: (C, p) float64 classifier, one row w_c per class. "
                        + _M,
            arg_names=("W", "M"),
            make_cases=_nc3_cases,
            reference=_ref_measure("nc3"),
            variants=_NC3_VARIANTS,
            properties=(_non_negative("a squared distance"),),
            shape_hints=(_ShapeHint(("C", "p"), "wrong_shape", "that is the difference matrix; NC3 is the sum of its "
                                    "squared entries"),),
        ),
        Exercise(
            name="nc4",
            signature="nc4(H, y, W, b) -> float",
            description="The fraction of samples whose network decision argmax_c (w_c . h + b_c) differs from the "
                        "nearest-class-centre decision argmin_c ||h - mu_c||. " + _HY
                        + " W: (C, p) float64, one row per class; b: (C,) float64.",
            arg_names=("H", "y", "W", "b"),
            make_cases=_nc4_cases,
            reference=_ref_measure("nc4"),
            variants=_NC4_VARIANTS,
            properties=(_fraction,),
            shape_hints=(_ShapeHint(("N",), "wrong_shape", "one value per sample; NC4 is the fraction of samples where "
                                    "the decisions differ"),),
        ),
        Exercise(
            name="terminal_phase_start",
            signature="terminal_phase_start(epochs, train_acc) -> int or None",
            description="The first measured epoch at which the training accuracy is 1.0 (zero training error), or "
                        "None if there is none. epochs: (E,) int array of the measured epochs, strictly increasing "
                        "(as history['epoch']); train_acc: (E,) float array, the training accuracy at each, a "
                        "fraction in [0, 1] (as history['train_acc']).",
            arg_names=("epochs", "train_acc"),
            make_cases=_tpt_cases,
            reference=lambda c: c.data["expected"],
            variants=_TPT_VARIANTS,
            judge_raw=_judge_terminal_phase,
            other_codes=("tpt_threshold_below_one", "tpt_not_first", "not_a_measured_epoch"),
        ),
    ]
    from ._exercises_theory import theory_exercises  # chapters 7-9; imports this module's machinery

    exercises += theory_exercises()
    return {ex.name: ex for ex in exercises}


#: Every exercise, by name.
EXERCISES: dict[str, Exercise] = _registry()


# ----------------------------------------------------------------------------------------------
# Running a check
# ----------------------------------------------------------------------------------------------


def _lookup(name: str) -> Exercise:
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    if key in EXERCISES:
        return EXERCISES[key]
    close = difflib.get_close_matches(key, EXERCISES, n=3)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"no exercise named {name!r}.{hint} Known exercises: {', '.join(EXERCISES)}")


def _accepts(fn: Callable[..., Any], n_args: int) -> bool:
    """Whether ``fn`` can be called with ``n_args`` positional arguments (True when that cannot be told)."""
    try:
        inspect.signature(fn).bind(*range(n_args))
    except TypeError:
        return False
    except ValueError:
        return True
    return True


def _describe_inputs(ex: Exercise, case: _Case, n_args: int) -> str:
    """``H (46, 6), y (46,); C=4; imbalanced classes``: shapes and sizes, never values."""
    parts = [f"{name} {tuple(value.shape)}" if isinstance(value, np.ndarray) else f"{name}={value}"
             for name, value in zip(ex.arg_names[:n_args], case.args[:n_args])]
    text = ", ".join(parts)
    if "C" in case.dims and "C" not in ex.arg_names:
        text += f"; C={case.dims['C']}"
    return text + (f"; {case.note}" if case.note else "")


def _one_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    text = lines[0] if lines else ""
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _modified_input(ex: Exercise, case: _Case, given: tuple[Any, ...]) -> Optional[_Finding]:
    for name, before, after in zip(ex.arg_names, case.args, given):
        if isinstance(before, np.ndarray) and not np.array_equal(before, after):
            return _Finding(
                "modified_input",
                f"right value, but your function changed its input {name} in place (e.g. `{name} -= ...`), which "
                f"silently changes the caller's data; work on a copy (`{name} = {name} - ...`)",
            )
    return None


@contextlib.contextmanager
def _recorded_warnings(ex: Exercise):
    """Record the numpy warnings of the student's call when the exercise judges them (``on_warning``).

    Inside, numpy warns on overflow, invalid operations and division by zero whatever the
    caller's ``np.seterr`` (underflow stays silent: it is harmless in a stable formula), and
    the warnings are recorded instead of shown. Other exercises see their warnings as usual.
    """
    if ex.on_warning is None:
        yield []
        return
    with warnings.catch_warnings(record=True) as caught, np.errstate(over="warn", invalid="warn", divide="warn"):
        warnings.simplefilter("always")
        yield caught


#: Seconds a student's function may take on one hidden case before it is stopped and reported.
CASE_TIME_LIMIT_S = 20.0


class _OutOfTime(BaseException):
    """Raised inside a student's function that runs past the time limit (a BaseException, so that the
    student's own ``except Exception`` cannot swallow it)."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Stop the block after ``seconds`` with :class:`_OutOfTime`, where the platform allows it.

    Uses a real-time interval timer (``SIGALRM``), which interrupts Python code; it needs the main
    thread of a POSIX process (a notebook kernel runs cells there). Elsewhere the block runs without
    a limit.
    """
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def stop(signum, frame):
        raise _OutOfTime()

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _run(ex: Exercise, answer: Any) -> CheckResult:
    cases = ex.cases()
    total = len(cases)

    def result(status: str, message: str, passed: int = 0, mistake: Optional[str] = None) -> CheckResult:
        return CheckResult(ex.name, status, passed, total, message, mistake)

    if answer is None or answer is Ellipsis:
        return result("not attempted", f"⏳ {ex.name}: nothing to check yet; pass your function, e.g. "
                                       f"check({ex.name!r}, my_{ex.name}).")
    if not callable(answer):
        return result("error", f"⚠️ {ex.name}: expected your function itself (e.g. my_{ex.name}, without "
                               f"parentheses), got a {type(answer).__name__}.", mistake="not_a_function")
    n_args = len(ex.arg_names)
    if ex.optional_args and not _accepts(answer, n_args):
        n_args -= ex.optional_args
    for k, case in enumerate(cases):
        given = tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in case.args[:n_args])
        where = f"case {k + 1} of {total} ({_describe_inputs(ex, case, n_args)})"
        try:
            with _recorded_warnings(ex) as caught, _time_limit(CASE_TIME_LIMIT_S):
                raw = answer(*given)
        except _OutOfTime:
            return result("error", f"⚠️ {ex.name}: your function did not return within {CASE_TIME_LIMIT_S:g} s on "
                                   f"{where} (an endless loop?); it was stopped.", k, "time_limit")
        except SystemExit:
            return result("error", f"⚠️ {ex.name}: your function called exit() or sys.exit() on {where}; "
                                   "return a value instead.", k, "exit")
        except NotImplementedError as err:
            if k == 0:  # the stub of a student edition
                return result("not attempted", f"⏳ {ex.name}: not attempted yet. Replace `raise NotImplementedError` "
                                               "with your code and run the check again.")
            return result("error", f"⚠️ {ex.name}: your function raised {_one_line(err)} on {where}: it must "
                                   "handle every case.", k)
        except Exception as err:  # the student's code: report it in one line, never crash the cell
            hint = ex.explain_error(err, case) if ex.explain_error else None
            message = f"⚠️ {ex.name}: your function raised {_one_line(err)} on {where}."
            if hint is not None:
                message += f" Hint: {hint.message}."
            return result("error", message, k, hint.code if hint else None)
        finding = _judge(ex, raw, case) or _modified_input(ex, case, given)
        if caught and (finding is None or finding.code == "not_finite"):
            finding = ex.on_warning(caught, case) or finding
        if finding is not None:
            return result("failed", f"❌ {ex.name}: {where} failed: {finding.message}.", k, finding.code)
    return result("passed", f"✅ {ex.name}: passed all {total} cases.", total)


def check(name: str, answer: Any, *, quiet: bool = False) -> CheckResult:
    """Check a student's answer to the exercise ``name`` and print a one-line verdict.

    Parameters
    ----------
    name : str
        The exercise (see :func:`list_exercises`), e.g. ``"nc1"``; case and dashes are forgiven.
    answer : callable
        The student's function, called as the exercise's signature says with numpy arrays
        (features float64, labels int64) or ints. It may return numpy arrays, torch tensors,
        lists or numbers (or None, where the exercise asks for it). Each call gets its own
        copies of the hidden inputs.
    quiet : bool, default False
        Do not print the verdict (for graders, who read the returned result).

    Returns
    -------
    CheckResult
        ``status`` is "passed", "failed", "not attempted" (the function raises
        ``NotImplementedError`` on the first case, or ``answer`` is None) or "error" (it
        raises anything else); ``mistake`` names a recognised mistake. The message never
        contains the expected values.

    Raises
    ------
    ValueError
        If there is no exercise called ``name`` (a mistake of the notebook, not of the student).

    Examples
    --------
    >>> def my_global_mean(H, y):
    ...     return H.mean(axis=0)
    >>> result = check("global_mean", my_global_mean)
    ✅ global_mean: passed all 8 cases.
    >>> result.passed, result.cases_total
    (True, 8)
    """
    result = _run(_lookup(name), answer)
    if not quiet:
        print(result.message)
        object.__setattr__(result, "_printed", True)
    return result


def list_exercises() -> None:
    """Print every exercise: its call signature, then what it computes and the inputs it receives.

    Examples
    --------
    >>> list_exercises()  # doctest: +ELLIPSIS
    class_means(H, y) -> array of shape (C, p)
        Row c is the mean mu_c of the features of class c. ...
    """
    for ex in EXERCISES.values():
        print(ex.signature)
        print(f"    {ex.description}")
