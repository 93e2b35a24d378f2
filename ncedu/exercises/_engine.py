"""The machinery of the exercises: what an exercise is, how an answer is judged, and how a check runs.

An :class:`Exercise` holds a signature, hidden cases (:class:`_Case`), a reference, the named
mistakes it recognises (:class:`_Mistake`) and structural checks; :func:`_run` calls the
student's function on each case (with its own copies of the inputs, a time limit, warnings
recorded) and returns a :class:`CheckResult` whose message names what is wrong without revealing
the expected values. No exercise is defined here: see :mod:`ncedu.exercises.foundations` and
:mod:`ncedu.exercises.theory`.
"""

from __future__ import annotations

import contextlib
import inspect
import signal
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import torch

from ..metrics import class_means as _class_means


#: Relative tolerance of every comparison (relative to the largest entry of the expected answer).
RTOL = 1e-6

#: Absolute floor of the tolerance, for answers that are (close to) zero.
ATOL = 1e-9

#: The statuses a :class:`CheckResult` can have.
STATUSES = ("passed", "failed", "not attempted", "error")


Dim = Union[str, int]


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
    cases_passed : int
        Hidden cases answered correctly (checking stops at the first wrong one).
    cases_total : int
        The number of hidden cases.
    message : str
        The one-line verdict that :func:`check` prints; it never contains the expected values.
    mistake : str or None
        A short code for what went wrong (e.g. ``"nc1_missing_div_C"``, ``"wrong_shape"``,
        ``"returned_none"``); None when passed, not attempted or not diagnosed.
    passed : bool
        ``status == "passed"``.

    Examples
    --------
    >>> from ncedu.exercises import check
    >>> def wrong_global_mean(H, y):       # the mean of the class means: a named mistake
    ...     return np.stack([H[y == c].mean(0) for c in np.unique(y)]).mean(0)
    >>> result = check("global_mean", wrong_global_mean, quiet=True)
    >>> result.status, result.passed, result.mistake
    ('failed', False, 'global_mean_of_class_means')
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
    arg_names : tuple of str
        The names of the student function's arguments, in order.
    make_cases : callable
        ``make_cases() -> list of cases``: the hidden cases, from fixed seeds.
    shape : tuple
        The expected shape of the answer, with the symbols ``"C"``, ``"p"``, ``"N"`` of each case
        (``()`` for a number).
    reference : callable or None
        ``reference(case)``: the correct answer, computed independently of ``ncedu``.
    variants : tuple
        Wrong answers to recognise, each with a code and a message (``compute(case)`` its value).
    diagnose : callable or None
        ``diagnose(answer, case)``: a finding about a wrong answer, or None.
    properties : tuple of callables
        Structural checks ``check(answer, case)`` (symmetry, positive semi-definiteness, ...).
    judge : callable or None
        Replaces the comparison with ``reference`` (answers correct up to an invariance).
    judge_raw : callable or None
        Replaces all judging, the type included (answers that are not arrays).
    shape_hints : tuple
        Telling wrong shapes, each with a code and a message.
    explain_error : callable or None
        ``explain_error(exception, case)``: a finding about an exception the answer raised.
    on_warning : callable or None
        ``on_warning(warnings, case)``: a finding about the numpy warnings an answer raised.
    optional_args : int
        How many trailing arguments the student's function may omit.
    other_codes : tuple of str
        Mistake codes that ``diagnose``, ``judge`` or the others can return.
    mistakes : tuple of str
        The codes of the mistakes this exercise recognises (a property).

    Notes
    -----
    Exercises are built by ``ncedu.exercises.foundations`` and ``ncedu.exercises.theory`` and
    registered in ``ncedu.exercises.EXERCISES``; :func:`~ncedu.exercises.check` runs them.

    Examples
    --------
    >>> from ncedu.exercises import EXERCISES
    >>> ex = EXERCISES["global_mean"]
    >>> ex.arg_names, ex.shape, len(ex.cases())
    (('H', 'y'), ('p',), 8)
    >>> "global_mean_of_class_means" in ex.mistakes
    True
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
        """The codes of the mistakes this exercise recognises (variants, shape hints, the others)."""
        codes = [m.code for m in self.variants] + [h.code for h in self.shape_hints] + list(self.other_codes)
        return tuple(dict.fromkeys(codes))

    def cases(self) -> list[_Case]:
        """The hidden cases, generated afresh from their fixed seeds (identical on every call).

        Returns
        -------
        list
            The cases; each holds the arguments the student's function gets (``case.args``).
        """
        return self.make_cases()


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


def _m(code: str, message: str, compute: Callable[[_Case], Any]) -> _Mistake:
    return _Mistake(code, message, compute)


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
        return result("not attempted", f"[to do] {ex.name}: nothing to check yet; pass your function, e.g. "
                                       f"check({ex.name!r}, my_{ex.name}).")
    if not callable(answer):
        return result("error", f"[error] {ex.name}: expected your function itself (e.g. my_{ex.name}, without "
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
            return result("error", f"[error] {ex.name}: your function did not return within {CASE_TIME_LIMIT_S:g} s on "
                                   f"{where} (an endless loop?); it was stopped.", k, "time_limit")
        except SystemExit:
            return result("error", f"[error] {ex.name}: your function called exit() or sys.exit() on {where}; "
                                   "return a value instead.", k, "exit")
        except NotImplementedError as err:
            if k == 0:  # the stub of a student edition
                return result("not attempted", f"[to do] {ex.name}: not attempted yet. Replace `raise NotImplementedError` "
                                               "with your code and run the check again.")
            return result("error", f"[error] {ex.name}: your function raised {_one_line(err)} on {where}: it must "
                                   "handle every case.", k)
        except Exception as err:  # the student's code: report it in one line, never crash the cell
            hint = ex.explain_error(err, case) if ex.explain_error else None
            message = f"[error] {ex.name}: your function raised {_one_line(err)} on {where}."
            if hint is not None:
                message += f" Hint: {hint.message}."
            return result("error", message, k, hint.code if hint else None)
        finding = _judge(ex, raw, case) or _modified_input(ex, case, given)
        if caught and (finding is None or finding.code == "not_finite"):
            finding = ex.on_warning(caught, case) or finding
        if finding is not None:
            return result("failed", f"[failed] {ex.name}: {where} failed: {finding.message}.", k, finding.code)
    return result("passed", f"[ok] {ex.name}: passed all {total} cases.", total)
