"""ncedu.prose: the numbers and words a chapter's text quotes, and their glue into the page."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ncedu import prose

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import prose_lint  # noqa: E402


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (0.005781, 2, "0.0058"),
        (0.0058, 2, "0.0058"),
        (251.3, 2, "250"),
        (99.96, 2, "100"),
        (0.7581, 3, "0.758"),
        (9.751, 2, "9.8"),
        (1.0, 2, "1.0"),
        (11520, 2, "11,520"),  # integers are written in full
        (np.int64(112), 2, "112"),
        (123456.0, 3, "123,000"),
        (2.46e-8, 2, "2.5 × 10⁻⁸"),
        (3.4e7, 2, "3.4 × 10⁷"),
        (-0.25, 2, "−0.25"),
        (0.0, 2, "0"),
        (float("nan"), 2, "NaN"),
        (np.float32(0.1), 2, "0.10"),
        (torch.tensor(0.5), 1, "0.5"),
    ],
)
def test_number_rounds_to_significant_digits_as_prose_writes_them(value, digits, text):
    assert prose.number(value, digits) == text


def test_number_keeps_the_value_it_rounds():
    rng = np.random.default_rng(0)
    for x in 10 ** rng.uniform(-7, 8, size=300) * rng.choice([-1, 1], size=300):
        text = prose.number(x, 3).replace("−", "-").replace(",", "")
        if "×" in text:
            mantissa, power = text.split(" × 10")
            power = power.translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789"))
            back = float(mantissa) * 10 ** int(power)
        else:
            back = float(text)
        assert math.isclose(back, x, rel_tol=5e-3), (x, text)


def test_factor_percent_and_angle_formats():
    assert prose.times(251.3) == "250×"
    assert prose.times(3.42) == "3.4×"
    assert prose.percent(0.9731) == "97%"
    assert prose.percent(0.004) == "0.40%"
    assert prose.percent(1.0) == "100%" and prose.percent(0) == "0%"
    assert prose.degrees(9.751) == "9.8°"


@pytest.mark.parametrize(
    ("ratio", "words"),
    [
        (1000.0, "more than three orders of magnitude"),
        (999.0, "more than two orders of magnitude"),
        (251.0, "more than two orders of magnitude"),
        (100.0, "more than two orders of magnitude"),
        (99.0, "more than an order of magnitude"),
        (10.0, "more than an order of magnitude"),
        (9.99, "less than an order of magnitude"),
        (1 / 251.0, "more than two orders of magnitude"),  # a rise spans as much as the fall
    ],
)
def test_orders_of_magnitude_says_what_is_true_of_the_ratio(ratio, words):
    assert prose.orders_of_magnitude(ratio) == words


@pytest.mark.parametrize("bad", [0.0, -3.0, float("inf"), float("nan")])
def test_orders_of_magnitude_refuses_ratios_without_a_magnitude(bad):
    with pytest.raises(ValueError, match="ratio"):
        prose.orders_of_magnitude(bad)


def test_compare_and_change_choose_the_word_from_the_values():
    assert prose.compare(2.0, 1.0) == "larger"
    assert prose.compare(1.0, 2.0) == "smaller"
    assert prose.compare(1.0, 1.04) == "about the same"
    assert prose.compare(1.0, 1.06) == "smaller"
    assert prose.compare(5, 1, more="more often", less="less often") == "more often"
    assert prose.change(1.0, 0.1) == "falls"
    assert prose.change(0.1, 1.0) == "rises"
    assert prose.change(0.011, 0.0105) == "stays level"
    assert prose.change(0.011, 0.0105, rtol=0.01) == "falls"
    with pytest.raises(ValueError, match="NaN"):
        prose.compare(float("nan"), 1.0)


def test_count_spells_small_counts():
    assert [prose.count(n) for n in (0, 2, 12, 13, 1500)] == ["zero", "two", "twelve", "13", "1,500"]
    assert prose.count(np.int64(3)) == "three"
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="n must"):
            prose.count(bad)


def test_formatters_refuse_what_is_not_a_number():
    with pytest.raises(TypeError, match="value must be a real number"):
        prose.number("0.3")
    with pytest.raises(ValueError, match="digits"):
        prose.number(0.3, 0)


def test_glue_outside_ipython_does_nothing_but_validates_the_name():
    assert prose.glue("nc1_final", 0.00578, ".2g") is None
    with pytest.raises(ValueError, match="name"):
        prose.glue("has space", 1)
    with pytest.raises(TypeError, match="fmt"):
        prose.glue("x", 1, 2)


def _run_in_kernel(code: str, static: bool) -> list[dict]:
    """Execute ``code`` in a fresh kernel and return the outputs of its one cell."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    env_code = f"import os; os.environ['NCEDU_STATIC_WIDGETS'] = {'1' if static else '0'!r}\n"
    nb.cells[0].source = env_code + code
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    return nb.cells[0].outputs


@pytest.mark.slow
@pytest.mark.parametrize("static", [True, False], ids=["website build", "live notebook"])
def test_glue_records_what_myst_nb_reads_and_shows_the_value_only_in_a_live_notebook(static):
    from myst_nb.ext.glue import extract_glue_data_cell
    from myst_nb.core.variables import format_plain_text

    outputs = _run_in_kernel("from ncedu.prose import glue, times\nglue('fall', times(251.3))", static)
    import nbformat

    cell = nbformat.from_dict({"cell_type": "code", "source": "", "metadata": {}, "outputs": outputs})
    data = dict(extract_glue_data_cell(cell))
    assert format_plain_text(data["fall"]["data"]["text/plain"], "") == "250×"
    visible = [o["data"]["text/plain"] for o in cell.outputs if "text/plain" in o.get("data", {})]
    assert visible == ([] if static else ["fall = 250×"])


# -- the typed-number check of the chapters ------------------------------------------------------

@pytest.mark.parametrize(
    "markdown",
    [
        "NC1 falls 251x over training.",
        "NC1 falls about 250 times.",
        "the angle is 9.75 degrees",
        "NC3 near 0.77",
        "the terminal phase starts at epoch 112",
        "accuracy 97% of the margin",
        "a fiftyfold fall",
        "it trains in well under a minute",
        "each run takes 15 s",
        "falls by orders of magnitude",
        "```{prf:remark}\nHere NC3 is 0.77.\n```",
        ":::{note}\nthe angle is 9.8°\n:::",
    ],
)
def test_the_check_finds_run_numbers_typed_into_prose(tmp_path, markdown):
    path = tmp_path / "chapter.md"
    path.write_text(markdown)
    assert prose_lint.find_typed_numbers(path), markdown


@pytest.mark.parametrize(
    "markdown",
    [
        "NC1 falls {glue:text}`nc1_fall` over training.",
        "the cosine is $-1/(C-1)$, so the angle is $120^\\circ$ for $C = 3$",
        "$$\\mathrm{NC1} = 0.5 \\operatorname{Tr}(\\Sigma_W)$$",
        "run `ncedu.measure(H, y, W, b)` with `0.05`",
        "```python\nx = 0.77\n```",
        "```{math}\n0.75\n```",
        "see {cite:t}`papyan2020prevalence` and [chapter 3](nc1.ipynb)",
        "200 images per class for 300 epochs",
        "the authors' notebook drops the rate after epochs 116 and 233",
        "```{exercise}\n:label: ex-1.2\nProve it.\n```",
    ],
)
def test_the_check_leaves_math_code_glue_and_settings_alone(tmp_path, markdown):
    path = tmp_path / "chapter.md"
    path.write_text(markdown)
    assert prose_lint.find_typed_numbers(path) == []


@pytest.mark.parametrize("path", prose_lint.chapters(), ids=lambda p: p.name)
def test_no_chapter_types_a_run_number_into_its_prose(path):
    findings = prose_lint.find_typed_numbers(path)
    assert not findings, "\n".join(map(str, findings))
