"""The book's references: every cited key exists, journal articles carry their DOI, DOIs are well formed.

Quick checks of ``book/references.bib`` against the chapters' sources; the rendered labels and
DOI links are checked on the built site (tests/test_site.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pybtex = pytest.importorskip("pybtex.database")

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "book" / "references.bib"
# Journals that do not register DOIs for their articles.
NO_DOI_JOURNALS = {"Journal of Machine Learning Research", "Transactions on Machine Learning Research"}
# DOIs as the publishers registered them (checked against library and publisher records).
KNOWN_DOIS = {
    "papyan2020prevalence": "10.1073/pnas.2015509117",
    "webb1990optimised": "10.1016/0893-6080(90)90019-H",
    "fang2021exploring": "10.1073/pnas.2103091118",
    "he2023law": "10.1073/pnas.2221704120",
    "fisher1936use": "10.1111/j.1469-1809.1936.tb02137.x",
    "mixon2022neural": "10.1007/s43670-022-00027-5",
}


@pytest.fixture(scope="module")
def entries():
    return pybtex.parse_file(str(BIB)).entries


def cited_keys() -> set:
    keys = set()
    for path in sorted((ROOT / "book").glob("*.ipynb")) + sorted((ROOT / "book").glob("*.md")):
        text = path.read_text()
        if path.suffix == ".ipynb":
            text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
        for group in re.findall(r"\{cite(?::[a-z]+)?\}`([^`]+)`", text):
            keys.update(k.strip() for k in group.split(","))
    return keys


def test_every_cited_key_is_in_the_bibliography(entries):
    cited = cited_keys()
    assert cited, "no citations found"
    assert sorted(cited - set(entries)) == []


def test_journal_articles_carry_their_doi(entries):
    missing = [k for k, e in entries.items() if e.type == "article"
               and e.fields.get("journal") not in NO_DOI_JOURNALS and "doi" not in e.fields]
    assert missing == []


def test_dois_are_bare_well_formed_and_the_checked_ones(entries):
    for key, entry in entries.items():
        doi = entry.fields.get("doi")
        if doi is None:
            continue
        assert re.fullmatch(r"10\.\d{4,9}/\S+", doi), f"{key}: {doi!r} is not a bare DOI (no https://doi.org/ prefix)"
    assert {k: entries[k].fields.get("doi") for k in KNOWN_DOIS} == KNOWN_DOIS


def test_every_entry_has_authors_and_a_year_for_its_author_year_label(entries):
    for key, entry in entries.items():
        assert entry.persons.get("author"), f"{key}: no authors"
        assert re.fullmatch(r"\d{4}", entry.fields.get("year", "")), f"{key}: no four-digit year"
