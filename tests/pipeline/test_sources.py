from pathlib import Path

import pytest

from pipeline.sources import SOURCES_DIR, SourcesError, load_sources


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(body, encoding="utf-8")
    return path


ENTRY = "sources:\n  - {id: a, name: A, city: C, country: de, lang: DE, "


def test_bundled_sources_load() -> None:
    demo = load_sources(SOURCES_DIR / "demo.yaml", newsroom="http://127.0.0.1:9")
    assert len(demo) >= 6 and all(s.feeds or s.sitemaps for s in demo)
    assert all(u.startswith("http://127.0.0.1:9/") for s in demo for u in s.feeds)
    real = load_sources(SOURCES_DIR / "epic-cities.yaml")
    assert {s.city for s in real} >= {"Oberhausen", "Brescia", "Lisbon", "Gdańsk", "Sisak"}
    assert not any(s.verified for s in real)


def test_codes_are_normalised(tmp_path: Path) -> None:
    (source,) = load_sources(write(tmp_path, ENTRY + "feeds: ['https://a.example/rss']}\n"))
    assert (source.country, source.lang) == ("DE", "de")


@pytest.mark.parametrize(
    ("feeds", "message"),
    [
        ("feeds: 'https://a.example/rss'", "must be a list"),
        ("feeds: ['www.a.example/rss']", "not http"),
        ("feeds: ['file:///etc/passwd']", "not http"),
        ("feeds: []", "neither feeds nor sitemaps"),
    ],
)
def test_bad_entries_are_refused_with_the_reason(tmp_path: Path, feeds: str, message: str) -> None:
    with pytest.raises(SourcesError, match=message):
        load_sources(write(tmp_path, ENTRY + feeds + "}\n"))


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    line = "  - {id: a, name: A, city: C, country: DE, lang: de, feeds: ['https://a.example/']}\n"
    with pytest.raises(SourcesError, match="duplicate"):
        load_sources(write(tmp_path, "sources:\n" + line + line))
