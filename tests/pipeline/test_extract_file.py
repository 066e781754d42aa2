"""extract_file, the library side of ``framewatch extract FILE.html... [--url URL]``."""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict
from pathlib import Path

import pytest

from pipeline.extract import FileExtraction, extract_file, read_html

PARAGRAPHS = [
    "Rada miasta zdecydowała w czwartek, że nowa świetlica dla dzieci powstanie w budynku "
    "dawnej szkoły przy ulicy Źródlanej.",
    "Remont ma kosztować około dwóch milionów złotych, a prace ruszą wiosną przyszłego roku. "
    "Mieszkańcy od lat zabiegali o takie miejsce.",
    "Zajęcia poprowadzą nauczyciele i wolontariusze; świetlica będzie czynna także w ferie "
    "zimowe, kiedy szkoły są zamknięte.",
]


def page(head: str = "", lang: str = "pl") -> str:
    """A small Polish article page with ``head`` added to its <head>."""
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        f"<html lang='{lang}'><head>{head}<title>Świetlica w dawnej szkole</title></head>"
        f"<body><article><h1>Świetlica w dawnej szkole</h1>{body}</article></body></html>"
    )


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    """Save bytes as a file under tmp_path."""
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("label", "data"),
    [
        ("declared cp1250", page('<meta charset="windows-1250">').encode("cp1250")),
        ("declared iso-8859-2", page('<meta charset="iso-8859-2">').encode("iso-8859-2")),
        ("utf-8, nothing declared", page().encode("utf-8")),
        ("utf-8 with a BOM", b"\xef\xbb\xbf" + page().encode("utf-8")),
        (
            "http-equiv",
            page('<meta http-equiv="Content-Type" content="text/html; charset=cp1250">').encode(
                "cp1250"
            ),
        ),
    ],
)
def test_bytes_in_any_encoding_are_decoded(tmp_path: Path, label: str, data: bytes) -> None:
    got = extract_file(write(tmp_path, "p.html", data))
    assert got.error is None, label
    assert PARAGRAPHS[0] in got.text and got.title == "Świetlica w dawnej szkole"


def test_gzip_is_recognised_by_its_bytes(tmp_path: Path) -> None:
    raw = gzip.compress(page('<meta charset="iso-8859-2">').encode("iso-8859-2"))
    for name in ("p.html.gz", "p.html"):  # a misnamed file as well
        got = extract_file(write(tmp_path, name, raw))
        assert got.error is None and PARAGRAPHS[2] in got.text


def test_read_html_reports_the_encoding(tmp_path: Path) -> None:
    encoding, html = read_html(
        write(tmp_path, "p.html", page('<meta charset="cp1250">').encode("cp1250"))
    )
    assert encoding == "cp1250" and "Źródlanej" in html


def test_no_url_and_no_canonical_gives_none(tmp_path: Path) -> None:
    got = extract_file(
        write(tmp_path, "p.html", page('<link rel="canonical" href="/a.html">').encode())
    )
    assert got.error is None and got.url is None


def test_the_pages_canonical_stands_in_for_a_missing_url(tmp_path: Path) -> None:
    head = '<link rel="canonical" href="https://gazeta.example/miasto/swietlica-77.html">'
    got = extract_file(write(tmp_path, "p.html", page(head).encode()))
    assert got.url == "https://gazeta.example/miasto/swietlica-77.html"


def test_a_given_url_is_canonicalised(tmp_path: Path) -> None:
    path = write(tmp_path, "p.html", page().encode())
    got = extract_file(path, url="https://gazeta.example/miasto/swietlica-77.html?utm_source=x#top")
    assert got.url == "https://gazeta.example/miasto/swietlica-77.html"


def test_language_is_detected_with_html_lang_or_declared_as_fallback(tmp_path: Path) -> None:
    path = write(tmp_path, "p.html", page(lang="de").encode())
    assert extract_file(path).lang == "pl"  # the text is Polish, whatever the page says
    assert extract_file(path, declared_lang="hr").lang == "pl"


def test_a_page_without_an_article_is_an_error_not_an_exception(tmp_path: Path) -> None:
    nav = (
        b"<html><body><nav><a href='/'>Start</a> <a href='/kontakt'>Kontakt</a></nav></body></html>"
    )
    got = extract_file(write(tmp_path, "nav.html", nav), url="https://gazeta.example/")
    assert got.error is not None and "no article text" in got.error
    assert (got.title, got.text, got.published_at, got.date_source) == ("", "", None, "none")
    assert got.url == "https://gazeta.example/"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("missing.html", None),
        ("broken.html.gz", b"\x1f\x8b\x08\x00garbage"),
        ("truncated.html.gz", gzip.compress(page().encode())[:40]),
    ],
)
def test_unreadable_files_are_errors(tmp_path: Path, name: str, data: bytes | None) -> None:
    path = tmp_path / name if data is None else write(tmp_path, name, data)
    got = extract_file(path)
    assert got.error is not None and got.error.startswith(f"cannot read {name}")
    assert got.file == str(path)


def test_an_empty_file_is_not_a_page(tmp_path: Path) -> None:
    assert extract_file(write(tmp_path, "empty.html", b"")).error == "not an HTML page"


def test_to_json_is_one_object_with_every_field(tmp_path: Path) -> None:
    got = extract_file(write(tmp_path, "p.html", page().encode()))
    text = got.to_json()
    assert "\n" not in text.replace("\\n", "")  # one line: one object per file
    assert "Świetlica" in text  # not ASCII-escaped
    assert json.loads(text) == asdict(got)
    assert list(json.loads(text)) == [
        "file",
        "url",
        "title",
        "text",
        "author",
        "published_at",
        "date_source",
        "lang",
        "error",
    ]
    assert FileExtraction(**json.loads(text)) == got
