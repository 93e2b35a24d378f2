"""The book builds from scratch with warnings as errors, and the site works in a real browser.

The build executes every chapter (as CI does, with an empty execution cache and an empty run
cache), so these tests take minutes; they run on one xdist worker (group "notebooks"). Set
``NCEDU_SITE=path/to/_build/html`` to test an existing build instead of building.

Browser checks use Debian's Chromium driven by Playwright: every page loads without a
JavaScript error, internal links resolve, math is typeset by MathJax, launch buttons open the
chapter's ``.ipynb`` in Colab, and exercise solutions stay hidden until clicked. Screenshots of
every page are saved to ``_build/screenshots`` for review.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("notebooks")]  # see tests/test_colab.py


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [ch["file"] for part in toc.get("parts", []) for ch in part["chapters"]]
    return [f + ".html" for f in files]


@pytest.fixture(scope="session")
def build(tmp_path_factory):
    """Build the book from scratch into a temporary folder; returns (html dir, build log, seconds)."""
    if os.environ.get("NCEDU_SITE"):
        return Path(os.environ["NCEDU_SITE"]), "", 0.0
    out = tmp_path_factory.mktemp("book")
    env = {
        **os.environ,
        "NCEDU_CACHE": str(out / "runs"),
        # one thread per kernel: the other xdist worker keeps a core busy, and OpenMP threads
        # that wait on a busy core slow training down by orders of magnitude
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    env.pop("MPLBACKEND", None)  # the kernel's inline backend must draw the figures
    jb = Path(sys.executable).with_name("jupyter-book")
    start = time.perf_counter()
    proc = subprocess.run(
        [str(jb), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, env=env, timeout=1800,
    )
    seconds = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "test-build.log").write_text(log)
    assert proc.returncode == 0, "the book build failed (warnings are errors):\n" + log[-6000:]
    return out / "_build" / "html", log, seconds


def test_the_book_builds_from_scratch_within_budget(build):
    html, log, seconds = build
    for page in toc_pages():
        assert (html / page).exists(), f"{page} was not built"
    if seconds:
        assert seconds < 600, f"the whole build took {seconds:.0f} s (budget 10 minutes)"


def test_chapters_show_their_figures(build):
    html, _, _ = build
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        page = (html / "book" / f"{nb.stem}.html").read_text()
        outputs = re.findall(r'<div class="cell_output docutils container">(.*?)</div>\s*</div>', page, flags=re.S)
        images = sum(o.count("<img") for o in outputs)
        assert images >= 2, f"{nb.stem}: only {images} figures in the executed outputs"


def test_every_chapter_executed_within_its_budget(build):
    html, _, _ = build
    table = (html / "book" / "execution.html").read_text()
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", table, flags=re.S)]
    rows = [cells[i : i + 5] for i in range(0, len(cells), 5)]
    notebooks = sorted(p.stem for p in (ROOT / "book").glob("*.ipynb"))
    assert sorted(r[0].split("/")[-1] for r in rows) == notebooks, f"execution table rows: {rows}"
    for name, _, _, seconds, status in rows:
        assert status == "✅", f"{name} failed to execute"
        assert float(seconds) <= 90, f"{name} took {seconds} s to execute (budget 90 s)"


@pytest.fixture(scope="session")
def server(build):
    html, _, _ = build

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(html)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it as root)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def open_page(browser, url):
    """Open a page, collecting JavaScript errors; wait until MathJax has typeset it."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.goto(url, wait_until="load")
    if page.evaluate("() => !!document.querySelector('script[src*=\"mathjax\"]')"):  # only pages with math load it
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20000)
        page.evaluate("() => MathJax.startup.promise")
    return page, errors


@pytest.mark.parametrize("page_path", toc_pages())
def test_each_page_loads_without_errors_and_typesets_its_math(browser, server, page_path):
    page, errors = open_page(browser, urljoin(server, page_path))
    try:
        assert errors == [], f"{page_path}: {errors}"
        math_spans = page.locator("span.math, div.math")
        unrendered = page.evaluate(
            "() => [...document.querySelectorAll('span.math, div.math')].filter(e => !e.querySelector('mjx-container')).length"
        )
        assert unrendered == 0, f"{page_path}: {unrendered} of {math_spans.count()} math elements not typeset"
        shots = ROOT / "_build" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / (page_path.replace("/", "_") + ".png")), full_page=True)
    finally:
        page.close()


def test_math_is_typeset_on_the_notation_chapter(browser, server):
    page, _ = open_page(browser, urljoin(server, "book/notation.html"))
    try:
        assert page.locator("mjx-container").count() > 20
    finally:
        page.close()


def test_internal_links_resolve(build, browser, server):
    html, _, _ = build
    broken = []
    for page_path in toc_pages():
        page, _ = open_page(browser, urljoin(server, page_path))
        try:
            hrefs = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
            for href in hrefs:
                parsed = urlparse(href)
                if not href.startswith(server):
                    continue
                target = html / parsed.path.lstrip("/")
                if target.is_dir():
                    target = target / "index.html"
                if not target.exists():
                    broken.append(f"{page_path} -> {parsed.path}")
                elif parsed.fragment and target.suffix == ".html":
                    text = target.read_text(errors="replace")
                    if f'id="{parsed.fragment}"' not in text:
                        broken.append(f"{page_path} -> {parsed.path}#{parsed.fragment}")
        finally:
            page.close()
    assert broken == []


def test_launch_buttons_open_the_chapter_notebook_in_colab(browser, server):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    owner_repo = urlparse(config["url"]).path.strip("/")
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        page, _ = open_page(browser, urljoin(server, f"book/{nb.stem}.html"))
        try:
            links = page.evaluate(
                "() => [...document.querySelectorAll('a[href*=\"colab.research.google.com\"]')].map(a => a.href)"
            )
            want = f"https://colab.research.google.com/github/{owner_repo}/blob/{config['branch']}/book/{nb.name}"
            assert want in links, f"{nb.name}: launch links {links}"
        finally:
            page.close()


def test_solutions_are_hidden_until_clicked(browser, server):
    page, _ = open_page(browser, urljoin(server, "book/notation.html"))
    try:
        solutions = page.locator("div.solution")
        assert solutions.count() >= 3
        for i in range(solutions.count()):
            solution = solutions.nth(i)
            body = solution.locator(":scope > :not(.admonition-title)").first
            assert not body.is_visible(), f"solution {i} is visible before it is clicked"
        first = solutions.first
        first.locator("button.toggle-button").click()
        page.wait_for_timeout(500)
        assert first.locator(":scope > :not(.admonition-title)").first.is_visible(), "clicking did not reveal it"
        hidden_code = page.locator("div.cell.tag_hide-input details, details.hide.above-input")
        assert hidden_code.count() >= 1, "exercise code cells should be collapsed"
    finally:
        page.close()


def test_the_scrubber_on_the_website_moves_through_epochs_without_a_kernel(browser, server):
    page, errors = open_page(browser, urljoin(server, "book/intro.html"))
    try:
        slider = page.locator("input.anim-slider").first
        assert slider.count() == 1, "no HTML animation slider on the introduction"
        image = page.locator("img[id^='_anim_img']").first
        frames = int(slider.get_attribute("max")) + 1
        assert frames >= 10
        first = image.get_attribute("src")
        slider.evaluate("(s) => { s.value = s.max; s.dispatchEvent(new Event('input')); }")
        page.wait_for_timeout(300)
        last = image.get_attribute("src")
        assert first and last and first != last, "moving the slider did not change the frame"
        assert errors == []
    finally:
        page.close()
