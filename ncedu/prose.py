"""Numbers and words for a chapter's prose, computed from the run they describe.

The book's rule is that the text says only what the cells show: every number, ratio, epoch,
timing and comparison word about a run is computed by the kernel and inserted into the text,
so a rebuild with another thread count, CPU or torch version leaves no sentence false. This
module does both halves:

* :func:`glue` formats a value once and records it for myst-nb's ``{glue:text}`` role (the
  website), and shows it in the cell's output in a live notebook (Colab, Jupyter), where
  markdown cannot be filled in;
* the formatters (:func:`number`, :func:`times`, :func:`percent`, :func:`degrees`) write
  values the way prose quotes them, and the phrase choosers (:func:`orders_of_magnitude`,
  :func:`compare`, :func:`change`, :func:`count`) pick the words that are true of the values.

Example
-------
In a code cell::

    from ncedu.prose import glue, times, orders_of_magnitude
    fall = history["nc1"][0] / history["nc1"][-1]
    glue("nc1_fall", times(fall))
    glue("nc1_fall_words", orders_of_magnitude(fall))

and in the markdown below it::

    NC1 falls {glue:text}`nc1_fall` ({glue:text}`nc1_fall_words`).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from ._display import static_output

__all__ = ["glue", "number", "times", "percent", "degrees", "orders_of_magnitude", "compare", "change", "count"]

#: The mime-type prefix under which myst-nb finds glued values that are not displayed.
_GLUE_PREFIX = "application/papermill.record/"

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        try:  # numpy and torch scalars, 0-d arrays
            value = value.item()
        except (AttributeError, ValueError, TypeError):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}") from None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return float(value)


def _digits(digits: Any) -> int:
    if isinstance(digits, bool) or not isinstance(digits, numbers.Integral) or digits < 1:
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    return int(digits)


def number(value: Any, digits: int = 2) -> str:
    """``value`` rounded to ``digits`` significant digits, written as prose quotes it.

    Integers and numbers from 10⁻⁴ up to 10⁶ are written out (``0.0058``, ``250``, ``11,520``
    with thousands separators); smaller and larger ones as ``2.5 × 10⁻⁸``. Integers (Python,
    numpy) are written in full, not rounded. NaN is written ``NaN`` and infinities ``∞``.

    Parameters
    ----------
    value : int or float
        Python, numpy or 0-d torch scalars.
    digits : int, default 2
        Significant digits, at least 1.

    Returns
    -------
    str
        With a true minus sign ``−`` and superscript exponents.

    Examples
    --------
    >>> number(0.005781), number(251.3), number(11520), number(2.46e-8), number(0.7581, 3)
    ('0.0058', '250', '11,520', '2.5 × 10⁻⁸', '0.758')
    """
    digits = _digits(digits)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return f"{int(value):,}"
    x = _real(value, "value")
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0:
        return "0"
    rounded = float(f"{x:.{digits - 1}e}")  # the value to the digits asked, before choosing a layout
    exponent = math.floor(math.log10(abs(rounded)))
    if -4 <= exponent < 6:
        decimals = max(0, digits - 1 - exponent)
        text = f"{rounded:,.{decimals}f}"
    else:
        mantissa = rounded / 10**exponent
        text = f"{mantissa:.{digits - 1}f} × 10{str(exponent).translate(_SUPERSCRIPT)}"
    return text.replace("-", "−")


def times(ratio: Any, digits: int = 2) -> str:
    """A factor as prose writes it: :func:`number` followed by ``×``.

    Parameters
    ----------
    ratio : float
        The factor.
    digits : int, default 2
        Significant digits.

    Returns
    -------
    str

    Examples
    --------
    >>> times(251.3), times(3.42)
    ('250×', '3.4×')
    """
    return f"{number(_real(ratio, 'ratio'), digits)}×"


def percent(fraction: Any, digits: int = 2) -> str:
    """A fraction as a percentage, ``100 x`` to ``digits`` significant digits; 0 and 1 exactly as ``0%`` and ``100%``.

    Parameters
    ----------
    fraction : float
        A fraction (0.97 for 97%).
    digits : int, default 2
        Significant digits of the percentage.

    Returns
    -------
    str

    Examples
    --------
    >>> percent(0.9731), percent(0.004), percent(0.004, 1), percent(1.0)
    ('97%', '0.40%', '0.4%', '100%')
    """
    x = _real(fraction, "fraction")
    if x in (0.0, 1.0):
        return f"{x * 100:.0f}%"
    return f"{number(100 * x, digits)}%"


def degrees(angle: Any, digits: int = 2) -> str:
    """An angle in degrees, as :func:`number` followed by ``°``.

    Parameters
    ----------
    angle : float
        In degrees (no conversion from radians).
    digits : int, default 2
        Significant digits.

    Returns
    -------
    str

    Examples
    --------
    >>> degrees(9.751)
    '9.8°'
    """
    return f"{number(_real(angle, 'angle'), digits)}°"


def count(n: Any) -> str:
    """A count in words up to twelve, in digits above (with thousands separators).

    Parameters
    ----------
    n : int
        A non-negative integer (Python, numpy or 0-d torch).

    Returns
    -------
    str

    Examples
    --------
    >>> count(3), count(12), count(40), count(11520)
    ('three', 'twelve', '40', '11,520')
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        try:
            n = n.item()
        except AttributeError:
            pass
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    return _WORDS[n] if n < len(_WORDS) else f"{int(n):,}"


def orders_of_magnitude(ratio: Any) -> str:
    """How many orders of magnitude a factor ``ratio`` (> 0) spans, in words that are true of it.

    With ``k = floor(log10(ratio))``: ``"more than k orders of magnitude"`` for ``ratio ≥ 100``
    (``k`` in words), ``"more than an order of magnitude"`` for ``10 ≤ ratio < 100`` and
    ``"less than an order of magnitude"`` below 10. A ratio below 1 is described by its inverse
    (a fall of 1/ratio is the same span).

    Parameters
    ----------
    ratio : float
        A positive finite factor.

    Returns
    -------
    str

    Examples
    --------
    >>> orders_of_magnitude(251), orders_of_magnitude(34), orders_of_magnitude(4.2)
    ('more than two orders of magnitude', 'more than an order of magnitude', 'less than an order of magnitude')
    """
    r = _real(ratio, "ratio")
    if not (r > 0 and math.isfinite(r)):
        raise ValueError(f"ratio must be a positive finite number, got {ratio!r}")
    r = max(r, 1 / r)
    k = math.floor(math.log10(r) + 1e-12)
    if k >= 2:
        return f"more than {count(k)} orders of magnitude"
    if k == 1:
        return "more than an order of magnitude"
    return "less than an order of magnitude"


def compare(value: Any, reference: Any, *, more: str = "larger", less: str = "smaller",
            same: str = "about the same", rtol: float = 0.05) -> str:
    """The word that compares ``value`` with ``reference``: ``more``, ``less`` or ``same``.

    ``same`` when ``|value - reference| <= rtol * max(|value|, |reference|)``, so that prose never
    calls two numbers different when they agree to within ``rtol``.

    Parameters
    ----------
    value, reference : float
        The numbers compared (NaN is refused).
    more, less, same : str
        The words for ``value`` larger, smaller, or within ``rtol``.
    rtol : float, default 0.05
        The relative tolerance, at least 0.

    Returns
    -------
    str
        One of ``more``, ``less``, ``same``.

    Examples
    --------
    >>> compare(0.12, 0.10), compare(0.10, 0.12), compare(1.02, 1.0)
    ('larger', 'smaller', 'about the same')
    >>> compare(3, 1, more="more often", less="less often")
    'more often'
    """
    a, b = _real(value, "value"), _real(reference, "reference")
    rtol = _real(rtol, "rtol")
    if not (rtol >= 0):
        raise ValueError(f"rtol must be non-negative, got {rtol!r}")
    if math.isnan(a) or math.isnan(b):
        raise ValueError("cannot compare NaN values: a run that measured nothing has nothing to say")
    if abs(a - b) <= rtol * max(abs(a), abs(b)):
        return same
    return more if a > b else less


def change(before: Any, after: Any, *, fell: str = "falls", rose: str = "rises", flat: str = "stays level",
           rtol: float = 0.1) -> str:
    """The verb for how a quantity went from ``before`` to ``after``: ``fell``, ``rose`` or ``flat``.

    ``flat`` when the relative change is at most ``rtol`` (:func:`compare` of ``after`` with ``before``).

    Parameters
    ----------
    before, after : float
        The quantity's two values.
    fell, rose, flat : str
        The verbs for a fall, a rise, or a change within ``rtol``.
    rtol : float, default 0.1
        The relative tolerance.

    Returns
    -------
    str

    Examples
    --------
    >>> change(1.0, 0.2), change(0.2, 1.0), change(0.011, 0.0105)
    ('falls', 'rises', 'stays level')
    """
    return compare(after, before, more=rose, less=fell, same=flat, rtol=rtol)


def glue(name: str, value: Any, fmt: str = "") -> None:
    """Record ``value`` under ``name`` for the chapter's text.

    ``value`` is formatted once, here (``format(value, fmt)``; strings are kept as they are), so
    the website and the notebook show the same text. The text is recorded in the cell's output
    the way myst-nb's own ``glue(..., display=False)`` records it, so ``{glue:text}`name``` in a
    markdown cell of the same notebook inserts it into the website. In a live notebook (Colab,
    Jupyter), where markdown is not filled in, the cell also shows ``name = text`` so a reader
    sees each number the text quotes. Outside IPython nothing is displayed. ``glue`` returns
    nothing, so that a cell ending in ``glue(...)`` shows no extra output.

    Parameters
    ----------
    name : str
        The key the markdown refers to: letters, digits, ``_`` and ``-``.
    value : object
        A string (kept as it is, e.g. from :func:`times`) or a value to format with ``fmt``.
    fmt : str
        A format specification (``".3g"``, ``","``, ``".1%"``); empty for ``str(value)``.

    Examples
    --------
    Outside IPython nothing is recorded or shown; in a chapter, ``{glue:text}`nc1_final``` in
    markdown inserts the text:

    >>> glue("nc1_final", 0.005781, ".2g")
    >>> glue("fall", times(251.3))
    """
    if not isinstance(name, str) or not name or not all(ch.isalnum() or ch in "_-" for ch in name):
        raise ValueError(f"name must be a non-empty key of letters, digits, '_' and '-', got {name!r}")
    if not isinstance(fmt, str):
        raise TypeError(f"fmt must be a format specification string such as '.3g', got {type(fmt).__name__}")
    text = value if isinstance(value, str) else format(value, fmt)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # plain Python: nothing to record into
        return
    if get_ipython() is None:
        return
    display({_GLUE_PREFIX + "text/plain": repr(text)}, raw=True,
            metadata={"scrapbook": {"name": name, "mime_prefix": _GLUE_PREFIX}})
    if not static_output():
        display({"text/plain": f"{name} = {text}"}, raw=True)
