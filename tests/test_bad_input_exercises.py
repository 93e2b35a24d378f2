"""ncedu under hostile input, the exercise checkers: student functions that never return or exit.

A correct result, a warning with NaN, or an error naming the argument, before any work is done.
Inputs are built here (``tests/bad_input_data.py``) independently of the code under test; errors
are checked for their exact class and for naming the argument, silent wrong results against an
independent float64 computation (``tests/reference.py``).
"""

from __future__ import annotations

import sys
import time

from ncedu import exercises


def test_a_student_function_that_never_returns_is_stopped_and_reported(monkeypatch):
    monkeypatch.setattr(exercises._engine, "CASE_TIME_LIMIT_S", 0.5)

    def endless(H, y):
        while True:
            try:
                time.sleep(0.01)
            except Exception:  # a student's catch-all cannot swallow the time limit
                pass

    start = time.perf_counter()
    result = exercises.check("class_means", endless, quiet=True)
    assert result.status == "error" and result.mistake == "time_limit"
    assert time.perf_counter() - start < 5


def test_a_student_function_that_exits_is_reported_not_the_end_of_the_kernel():
    result = exercises.check("class_means", lambda H, y: sys.exit(1), quiet=True)
    assert result.status == "error" and result.mistake == "exit"
