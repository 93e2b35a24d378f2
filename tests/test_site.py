"""The book builds from scratch with warnings as errors, and the site works in a real browser.

The build executes every chapter (as CI does, with an empty execution cache and an empty run
cache), so these tests take minutes; they run on one xdist worker (group "notebooks"). Set
``NCEDU_SITE=path/to/_build/html`` to test an existing build instead of building.

Browser checks use Debian's Chromium driven by Playwright: every page loads without a
JavaScript error, internal links resolve, math is typeset by MathJax, launch buttons open the
chapter's student edition (and, labelled, the full chapter) in Colab, and exercise solutions stay
hidden until clicked. Screenshots of every page are saved to ``_build/screenshots`` for review.
"""

from __future__ import annotations

import functools
import html as html_lib
import json
import http.server
import os
import re
import shutil
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


#: Notebooks of the part "Teaching and reference": executed like chapters, but no figures expected.
REFERENCE_PAGES = ("history",)


def test_chapters_show_their_figures(build):
    html, _, _ = build
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        if nb.stem in REFERENCE_PAGES:
            continue  # reference pages hold code and text, no experiment to plot
        page = (html / "book" / f"{nb.stem}.html").read_text()
        outputs = re.findall(r'<div class="cell_output docutils container">(.*?)</div>\s*</div>', page, flags=re.S)
        images = sum(o.count("<img") for o in outputs)
        assert images >= 2, f"{nb.stem}: only {images} figures in the executed outputs"


def chapter_titles(html: Path) -> dict:
    """``{"book/nc1": "3. NC1: variability collapse", ...}``: each page's heading, with its chapter number."""
    titles = {}
    for page in toc_pages():
        headings = re.findall(r"<h1[^>]*>(.*?)</h1>", (html / page).read_text(), flags=re.S)
        heading = next(h for h in headings if "headerlink" in h)  # the article's, not the print header's
        heading = re.sub(r'<a class="headerlink".*?</a>', "", heading, flags=re.S)
        titles[page[: -len(".html")]] = html_text(heading)
    return titles


def html_text(fragment: str) -> str:
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def execution_rows(html: Path) -> list:
    table = (html / "book" / "execution.html").read_text()
    body = table.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S):
        cells = [html_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S)]
        rows.append(cells)
    return rows


def test_every_chapter_executed_within_its_budget(build):
    html, _, _ = build
    rows = execution_rows(html)
    for chapter, notebook, _, seconds, status in rows:
        assert status == "succeeded", f"{notebook} failed to execute"
        assert float(seconds) <= 90, f"{notebook} took {seconds} s to execute (budget 90 s)"


def test_the_execution_table_lists_the_chapters_in_reading_order_with_titles(build):
    html, _, _ = build
    rows = execution_rows(html)
    reading_order = [p[: -len(".html")] for p in toc_pages() if (ROOT / (p[: -len(".html")] + ".ipynb")).exists()]
    assert [r[1] for r in rows] == [Path(p).name + ".ipynb" for p in reading_order], rows
    titles = chapter_titles(html)
    assert [r[0] for r in rows] == [titles[p] for p in reading_order]
    assert rows[1][0].startswith("1. "), "numbered chapters carry their number"
    marks = {r[4] for r in rows}
    assert marks <= {"succeeded", "failed"}, f"status marks must be words that every font draws: {marks}"


def bibliography_labels(html: Path) -> dict:
    """``{anchor id: label}`` of the bibliography page's entries."""
    page = (html / "book" / "bibliography.html").read_text()
    entries = re.findall(r'<div class="citation" id="([^"]+)"[^>]*>\s*<span class="label">(.*?)</span>\s*</span>', page, flags=re.S)
    return {anchor: html_text(label).strip("[]") for anchor, label in entries}


def test_bibliography_labels_are_the_author_year_citations_of_the_text(build):
    html, _, _ = build
    labels = bibliography_labels(html)
    assert labels, "the bibliography page lists no entries"
    citations = 0
    for page in toc_pages():
        text = (html / page).read_text()
        for span in re.findall(r'<span class="bibtex-citation"[^>]*>(.*?)</span>(?=\W)', text, flags=re.S):
            for anchor, inside in re.findall(r'href="bibliography\.html#([^"]+)"[^>]*>(.*?)</a>', span, flags=re.S):
                citations += 1
                before = html_text(span.split("<a ", 1)[0]).rstrip(" [(")
                inside = html_text(inside)
                # {cite:p}: "[Soudry et al., 2018]" links the whole label; {cite:t}: "Papyan et al. [2020]" the year
                cited = inside if "," in inside else f"{before}, {inside}"
                assert labels.get(anchor) == cited, f"{page}: the text cites {cited!r}, the bibliography says {labels.get(anchor)!r}"
    assert citations > 20


def test_the_bibliography_links_the_doi_of_every_cited_work_that_has_one(build):
    from pybtex.database import parse_file

    html, _, _ = build
    page = html_lib.unescape((html / "book" / "bibliography.html").read_text())
    text = html_text(page).lower()
    shown = set(re.findall(r'href="https://doi\.org/([^"]+)"', page))
    checked = 0
    for key, entry in parse_file(str(ROOT / "book" / "references.bib")).entries.items():
        title = re.sub(r"[{}]", "", entry.fields["title"]).lower()
        if title[:40] not in text:
            continue  # not cited: not listed
        if "doi" in entry.fields:
            checked += 1
            assert entry.fields["doi"] in shown, f"{key}: DOI {entry.fields['doi']} is not linked"
    assert checked >= 5


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


DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}


def open_page(browser, url, screen: dict = DESKTOP):
    """Open a page, collecting JavaScript errors; wait until MathJax has typeset it."""
    page = browser.new_page(**screen)
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


def _solution_lines(chapter: Path) -> list[str]:
    """The code lines that the chapter has only between BEGIN and END SOLUTION markers (long enough to be telling)."""
    import json

    solution, other, inside = [], set(), False
    for cell in json.loads(chapter.read_text())["cells"]:
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        for line in source.split("\n"):
            if "BEGIN SOLUTION" in line or "END SOLUTION" in line:
                inside = "BEGIN SOLUTION" in line
            elif inside and len(line.strip()) > 15:
                solution.append(line.strip())
            else:
                other.add(line.strip())
    return [line for line in solution if line not in other]


def test_launch_buttons_open_the_student_edition_and_the_full_chapter_in_colab(browser, server):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    owner_repo = urlparse(config["url"]).path.strip("/")
    blob = f"https://colab.research.google.com/github/{owner_repo}/blob/{config['branch']}/book"
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        page, _ = open_page(browser, urljoin(server, f"book/{nb.stem}.html"))
        try:
            links = page.evaluate(
                "() => [...document.querySelectorAll('.dropdown-launch-buttons a[href*=\"colab.research.google.com\"]')]"
                ".map(a => [a.textContent.trim(), a.href])"
            )
            assert links == [["Colab: student edition", f"{blob}/student/{nb.name}"],
                             ["Colab: full chapter (with solutions)", f"{blob}/{nb.name}"]], f"{nb.name}: {links}"
            # the labels are what a reader sees in the opened launch menu
            page.locator(".dropdown-launch-buttons button.dropdown-toggle").click()
            for text, _ in links:
                assert page.get_by_text(text, exact=True).is_visible(), f"{nb.name}: {text!r} not shown"
        finally:
            page.close()
        # the student edition it opens is in the repository, without the chapter's solution code
        student = ROOT / "book" / "student" / nb.name
        assert student.is_file(), f"{nb.name}: the launch button opens {student}, which does not exist"
        text = student.read_text()
        assert "BEGIN SOLUTION" not in text
        lines = {line.strip() for cell in json.loads(text)["cells"]
                 for line in (cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])).split("\n")}
        assert [line for line in _solution_lines(nb) if line in lines] == []


def test_pages_that_are_not_chapters_have_no_student_edition_link(browser, server):
    page, errors = open_page(browser, urljoin(server, "book/course_guide.html"))
    try:
        assert page.locator(".dropdown-launch-buttons a[href*='/student/']").count() == 0
        assert page.get_by_text("Colab: student edition", exact=True).count() == 0
        assert errors == []
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


# ----------------------------------------------------------------------------------------------
# The site on every screen: a phone (390 px) and a desktop (1280 px)
# ----------------------------------------------------------------------------------------------


def test_on_a_phone_the_navigation_button_opens_the_table_of_contents(browser, server):
    page, errors = open_page(browser, urljoin(server, "book/nc1.html"), PHONE)
    try:
        toggle = page.locator(".primary-toggle:visible")
        assert toggle.count() == 1, "one visible navigation button on a phone"
        dialog = page.locator("#pst-primary-sidebar-modal")
        assert not page.evaluate("() => document.getElementById('pst-primary-sidebar-modal').open")
        toggle.tap()
        page.wait_for_function("() => document.getElementById('pst-primary-sidebar-modal').open", timeout=5000)
        link = dialog.locator("a.reference.internal", has_text="NC2").first
        assert link.is_visible(), "the opened sidebar shows the table of contents"
        box = dialog.bounding_box()
        assert box and box["width"] > 200 and box["x"] < 10, f"the sidebar is not on screen: {box}"
        link.tap()
        page.wait_for_url("**/book/nc2.html", timeout=5000)  # and its links work
        assert errors == []
    finally:
        page.close()


def test_on_a_phone_the_contents_button_opens_the_page_contents(browser, server):
    page, errors = open_page(browser, urljoin(server, "book/nc1.html"), PHONE)
    try:
        toggle = page.locator(".secondary-toggle:visible")
        assert toggle.count() == 1
        toggle.tap()
        page.wait_for_function("() => document.getElementById('pst-secondary-sidebar-modal').open", timeout=5000)
        assert page.locator("#pst-secondary-sidebar-modal nav.page-toc a").first.is_visible()
        page.keyboard.press("Escape")
        page.wait_for_function("() => !document.getElementById('pst-secondary-sidebar-modal').open", timeout=5000)
        assert errors == []
    finally:
        page.close()


def test_on_a_desktop_the_navigation_button_collapses_and_restores_the_sidebar(browser, server):
    page, errors = open_page(browser, urljoin(server, "book/nc1.html"))
    try:
        toggle = page.locator(".primary-toggle:visible")
        assert toggle.count() == 1
        sidebar = page.locator("#pst-primary-sidebar")
        assert sidebar.is_visible()
        toggle.click()
        page.wait_for_function("() => !document.getElementById('pst-primary-sidebar').checkVisibility({visibilityProperty: true})", timeout=5000)
        assert not page.evaluate("() => document.getElementById('pst-primary-sidebar-modal').open"), "no dialog on a desktop"
        toggle.click()
        page.wait_for_function("() => document.getElementById('pst-primary-sidebar').checkVisibility({visibilityProperty: true})", timeout=5000)
        assert errors == []
    finally:
        page.close()


# Elements of the article whose content is cut off: wider than their nearest ancestor that clips
# (overflow other than visible) when that ancestor cannot scroll sideways, or past the edge of
# the window when nothing clips them. Content inside a box that scrolls is reachable, so it counts
# only if the box itself is cut off. Visually hidden helpers (MathJax's assistive MathML) and
# deliberate ellipses are not content; a glyph's ink may overhang its box by a few pixels.
CLIPPED = """() => {
  const out = [];
  const width = document.documentElement.clientWidth;
  const describe = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/\\s+/).join('.') : '');
  for (const e of document.querySelectorAll('.bd-article *')) {
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || e.closest('mjx-assistive-mml, .visually-hidden, .sr-only')) continue;
    let clipper = e.parentElement;
    while (clipper && clipper !== document.body) {
      const cs = getComputedStyle(clipper);
      if (cs.overflowX !== 'visible' && cs.display !== 'inline') break;
      clipper = clipper.parentElement;
    }
    if (clipper && clipper !== document.body) {
      const cs = getComputedStyle(clipper), box = clipper.getBoundingClientRect();
      const scrolls = cs.overflowX === 'auto' || cs.overflowX === 'scroll';
      if (!scrolls && cs.textOverflow !== 'ellipsis' && r.right > box.right + 3)
        out.push(`${describe(e)} cut off by ${describe(clipper)} at ${Math.round(box.right)} px (it ends at ${Math.round(r.right)} px)`);
    } else if (r.right > width + 1) {
      out.push(`${describe(e)} ends at ${Math.round(r.right)} px, past the window (${width} px)`);
    }
  }
  return [...new Set(out)];
}"""


@pytest.mark.parametrize("screen", ["desktop", "phone"])
@pytest.mark.parametrize("page_path", toc_pages())
def test_no_content_is_cut_off_at_the_right_edge(browser, server, page_path, screen):
    page, _ = open_page(browser, urljoin(server, page_path), DESKTOP if screen == "desktop" else PHONE)
    try:
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")  # hidden code too
        page.wait_for_timeout(200)
        clipped = page.evaluate(CLIPPED)
        assert clipped == [], f"{page_path} on a {screen}: {clipped[:10]}"
        widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], f"{page_path} on a {screen}: the page scrolls sideways ({widths})"
    finally:
        page.close()


def test_the_course_guides_tables_keep_their_last_column_reachable(browser, server):
    measure = """() => [...document.querySelectorAll('.bd-article table')].map(t => {
      const box = t.closest('.pst-scrollable-table-container') || t.parentElement;
      box.scrollLeft = box.scrollWidth;
      const last = t.querySelector('tr').lastElementChild.getBoundingClientRect(), b = box.getBoundingClientRect();
      return {header: t.querySelector('tr').lastElementChild.innerText.trim(), fits: t.scrollWidth <= box.clientWidth + 1,
              scrolls: ['auto', 'scroll'].includes(getComputedStyle(box).overflowX),
              reachable: last.left >= b.left - 1 && last.right <= b.right + 1};
    })"""
    for screen in (DESKTOP, PHONE):
        page, _ = open_page(browser, urljoin(server, "book/course_guide.html"), screen)
        try:
            tables = page.evaluate(measure)
            assert tables, "the course guide has tables"
            for table in tables:
                assert table["reachable"], f"{screen['viewport']['width']} px: column {table['header']!r} cannot be reached"
                assert table["fits"] or table["scrolls"], table
                if screen is DESKTOP:
                    assert table["fits"], f"on a desktop the table fits the column: {table}"
        finally:
            page.close()


def installed_font_coverage() -> set:
    """Every code point some installed font (fontconfig's list, which Chromium uses) can draw."""
    from fontTools.ttLib import TTCollection, TTFont

    listing = subprocess.run(["fc-list", "--format", "%{file}\\n"], capture_output=True, text=True)
    covered = set()
    for path in sorted(set(listing.stdout.split())):
        try:
            fonts = TTCollection(path).fonts if path.lower().endswith((".ttc", ".otc")) else [TTFont(path, lazy=True)]
        except Exception:  # a font fontTools cannot read: Chromium may, so it is not held against the page
            continue
        for font in fonts:
            cmap = font.getBestCmap() or {}
            covered.update(cmap)
    return covered


# What the text does not need a glyph for: spaces, joiners and variation selectors.
IGNORABLE = re.compile("[\\s\u200b-\u200f\u2060-\u2064\ufe00-\ufe0f\ufeff]")

VISIBLE_TEXT = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let text = '';
  while (walker.nextNode()) {
    const node = walker.currentNode, parent = node.parentElement;
    if (!parent || parent.closest('script, style, mjx-container, .MathJax, noscript, template')) continue;
    const r = parent.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    text += node.textContent;
  }
  return text;
}"""


@pytest.fixture(scope="session")
def font_coverage():
    if shutil.which("fc-list") is None:
        pytest.skip("fontconfig's fc-list is not installed")
    pytest.importorskip("fontTools")
    return installed_font_coverage()


def test_every_character_on_the_site_has_a_glyph_without_an_emoji_font(browser, server, font_coverage):
    # This machine has no emoji font (fonts-noto-color-emoji): a mark like U+2705 is an empty box here.
    missing = {}
    for page_path in toc_pages():
        page, _ = open_page(browser, urljoin(server, page_path))
        try:
            page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
            text = page.evaluate(VISIBLE_TEXT)
        finally:
            page.close()
        for ch in set(IGNORABLE.sub("", text)):
            if ord(ch) not in font_coverage:
                context = text[max(0, text.index(ch) - 30): text.index(ch) + 30].replace("\n", " ")
                missing.setdefault(f"U+{ord(ch):04X} {ch}", []).append(f"{page_path}: ...{context}...")
    assert missing == {}, "characters no installed font can draw (they show as empty boxes):\n" + "\n".join(
        f"{ch}: {where[:3]}" for ch, where in missing.items()
    )
