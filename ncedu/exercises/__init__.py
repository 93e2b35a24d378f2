r"""Automatic feedback on the book's coding exercises.

A chapter asks the reader to write a small function, then checks it in the next cell::

    from ncedu.exercises import check

    def my_nc1(H, y):
        ...                      # the reader's code
        return value

    check("nc1", my_nc1)         # prints e.g. "[ok] nc1: passed all 8 cases."

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

import difflib
from typing import Any

from ._engine import ATOL, CASE_TIME_LIMIT_S, RTOL, STATUSES, CheckResult, Exercise, _run
import importlib

from .foundations import foundation_exercises
from .theory import theory_exercises

#: The modules of the chapters beyond the paper, each defining ``exercises() -> list[Exercise]``
#: (one module per chapter, in reading order; a chapter adds its module's name here).
BEYOND_MODULES: tuple[str, ...] = ("ufm", "mse_central_path", "imbalance", "many_classes", "layers", "test_transfer", "limitations")

__all__ = ["CheckResult", "Exercise", "EXERCISES", "check", "list_exercises", "RTOL", "ATOL", "STATUSES",
           "CASE_TIME_LIMIT_S"]

#: Every exercise, by name.
def _all_exercises() -> list[Exercise]:
    found = foundation_exercises() + theory_exercises()
    for name in BEYOND_MODULES:
        found += importlib.import_module(f".{name}", __name__).exercises()
    names = [ex.name for ex in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise RuntimeError(f"exercise name(s) {twice} are defined twice")
    return found


EXERCISES: dict[str, Exercise] = {ex.name: ex for ex in _all_exercises()}





def _lookup(name: str) -> Exercise:
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    if key in EXERCISES:
        return EXERCISES[key]
    close = difflib.get_close_matches(key, EXERCISES, n=3)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"no exercise named {name!r}.{hint} Known exercises: {', '.join(EXERCISES)}")



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
    [ok] global_mean: passed all 8 cases.
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

    The names are those :func:`check` takes (the keys of ``ncedu.exercises.EXERCISES``); a chapter's exercise
    cell names its own.

    Examples
    --------
    >>> list_exercises()  # doctest: +ELLIPSIS
    class_means(H, y) -> array of shape (C, p)
        Row c is the mean mu_c of the features of class c. ...
    """
    for ex in EXERCISES.values():
        print(ex.signature)
        print(f"    {ex.description}")
