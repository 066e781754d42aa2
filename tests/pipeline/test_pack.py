"""Training packs on a real DuckDB store filled by direct inserts: selection, excerpts,
highlights, pseudonyms, escaping, and the CLI."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dashboards.i18n import LANGUAGES
from dashboards.pack import render_pack, write_pack
from models.pseudonymise import fold
from pipeline.cli import app
from pipeline.pack import MAX_EXCERPT, MAX_PER_OUTLET, Link, Pack, build_pack, safe_link
from pipeline.records import Annotation, Article, Cue, Evidence, Framing, Quote, Source, TermHit
from pipeline.store import (
    add_annotations,
    insert_articles,
    open_readonly,
    open_store,
    save_framings,
    start_run,
    upsert_sources,
)

REPO = Path(__file__).resolve().parents[2]
FRAME = "threat_public_order"
TODAY = date(2026, 11, 22)
PUBLISHED = datetime(2026, 11, 15, 9, tzinfo=UTC)
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
PAYLOAD_TITLE = f"Messerangriff {SCRIPT} {IMG} [link](javascript:alert(1))"
FILLER = "Der Stadtrat beriet am Abend über den Haushalt und die Schulen der Stadt. " * 8
EVIDENCE = (
    "Nach dem Messerangriff am Bahnhof sprach Bürgermeister Daniel Schranz von einer "
    "gefährlichen Flüchtlingswelle, während der 34-jährige Mehmet Aydın die Tat verurteilte."
)
CUE_WORD = "Messerangriff"
LOADED = "Flüchtlingswelle"
GOOD_SENTENCE = "Die Pflegerin Amal Haddad arbeitet seit drei Jahren im Klinikum und lernt Deutsch."
EN_FILLER = "The council met in the evening to discuss the budget and the schools. " * 8
EN_TEXT = (
    f"{EN_FILLER}\nAfter the Messerangriff at the station, Mayor John Byrne warned of a"
    f" Flüchtlingswelle, and Ahmed Khan, 34, condemned the attack.\n{EN_FILLER}"
)
SOURCES = [Source(s, f"Zeitung {s.upper()}", "Oberhausen", "DE", "de") for s in "abcdefg"]
SOURCES.append(Source("x", "Gazette X", "Dublin", "IE", "en"))


@dataclass(frozen=True)
class Row:
    """An article to insert: outlet, frame score, language, and what else it carries."""

    aid: str
    source: str
    score: float
    lang: str = "de"
    frame: str = FRAME
    title: str = ""
    text: str = ""


def _text(aid: str) -> str:
    """A long article whose evidence sentence sits in the middle."""
    return f"{FILLER}\n{EVIDENCE} Aydın sagte, er habe Angst. ({aid})\n{FILLER}"


def _article(row: Row) -> Article:
    """A stored-looking article."""
    url = f"https://{row.source}.example/{row.aid}"
    text = row.text or _text(row.aid)
    return Article(
        id=row.aid,
        url=url,
        requested_url=url,
        canonical_url=url,
        source_id=row.source,
        lang=row.lang,
        declared_lang=row.lang,
        title=row.title or f"Meldung {row.aid}",
        text=text,
        author="",
        published_at=PUBLISHED,
        date_source="feed",
        fetched_at=PUBLISHED,
        content_hash=f"h-{text}",
    )


def _framing(a: Article, row: Row, sentence: str, quotes: tuple[Quote, ...] = ()) -> Framing:
    """A classification with the frame assigned, its evidence and cue, and a loaded term."""
    sentence = sentence if sentence in a.text else a.text.split("\n")[1]
    start = a.text.index(sentence)
    cues: tuple[Cue, ...] = ()
    terms: tuple[TermHit, ...] = ()
    if CUE_WORD in sentence:
        c = a.text.index(CUE_WORD)
        cues = (Cue(c, c + len(CUE_WORD), CUE_WORD, 0.6, "attribution"),)
        t = a.text.index(LOADED)
        terms = (
            TermHit(
                "loaded_term",
                "flüchtlingswelle",
                t,
                t + len(LOADED),
                LOADED,
                "Neue deutsche Medienmacher",
                ("Zuwanderung", "Fluchtbewegung"),
            ),
        )
    ev = Evidence(row.frame, row.score, start, start + len(sentence), sentence, cues)
    return Framing(
        article_id=a.id,
        lang=row.lang,
        migration=True,
        migration_score=0.9,
        frames={row.frame: row.score},
        labels=(row.frame,),
        group=row.frame.split("_")[0],
        hostile=0.2,
        evidence=(ev,),
        terms=terms,
        quotes=quotes,
        model_version="test",
    )


ROWS = [
    Row("a1", "a", 0.95, title=PAYLOAD_TITLE),
    Row("a2", "a", 0.94),
    Row("a3", "a", 0.93),  # a third from outlet a: left out
    Row("b1", "b", 0.55),  # reviewed: first despite the low score
    Row("c1", "c", 0.90, text=_text("same-story")),
    Row("d1", "d", 0.89, text=_text("same-story")),  # same story as c1: left out
    Row("e1", "e", 0.97),  # rejected by a reviewer: left out
    Row("x1", "x", 0.99, lang="en", text=EN_TEXT),
]


def build_db(path: Path) -> None:
    """The store every pack test reads."""
    con = open_store(path)
    upsert_sources(con, SOURCES)
    good_text = f"{FILLER}\n{GOOD_SENTENCE}\n{FILLER}"
    good = Row("g1", "f", 0.9, frame="hero_integration", text=good_text)
    quote_text = f"{FILLER}\n„Ich arbeite hier seit zwei Jahren gern“, sagte Samir.\n{FILLER}"
    voiced = Row("q1", "g", 0.2, frame="threat_jobs", text=quote_text)
    articles = [_article(r) for r in [*ROWS, good, voiced]]
    framings = [_framing(a, r, EVIDENCE) for a, r in zip(articles, ROWS, strict=False)]
    framings.append(_framing(articles[-2], good, GOOD_SENTENCE))
    q = quote_text.index("Ich arbeite")
    quote = Quote(
        q, q + 31, "Ich arbeite hier seit zwei Jahren gern", "Samir", -1, -1, "migrant", "sagte"
    )
    voiced_framing = _framing(
        articles[-1], voiced, "„Ich arbeite hier seit zwei Jahren gern“, sagte Samir.", (quote,)
    )
    framings.append(voiced_framing)
    start_run(con, "run1", "sources.yaml")
    insert_articles(con, articles, "run1")
    save_framings(con, framings)
    add_annotations(
        con,
        [
            Annotation("n1", "anna", EVIDENCE, "de", article_id="b1", labels=(FRAME,)),
            Annotation(
                "n2", "anna", EVIDENCE, "de", article_id="e1", labels=("victim_humanitarian",)
            ),
        ],
    )
    con.close()


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pack") / "pack.duckdb"
    build_db(path)
    return path


@pytest.fixture(scope="module")
def pack(db_path: Path) -> Pack:
    with open_readonly(db_path) as con:
        return build_pack(con, FRAME, "de", weeks=4, limit=8, today=TODAY)


def test_selection_reviewed_first_outlets_and_stories_limited(pack: Pack) -> None:
    ids = [e.article_id for e in pack.examples]
    assert ids[0] == "b1" and pack.examples[0].reviewed
    assert not any(e.reviewed for e in pack.examples[1:])
    outlets = [e.outlet for e in pack.examples]
    assert max(outlets.count(o) for o in outlets) <= MAX_PER_OUTLET
    assert "a3" not in ids and {"a1", "a2"} <= set(ids)
    assert len({"c1", "d1"} & set(ids)) == 1  # one per story
    assert "e1" not in ids  # the reviewer rejected the frame


def test_pack_language_first_other_languages_said(db_path: Path, pack: Pack) -> None:
    langs = [e.lang for e in pack.examples]
    assert langs[-1] == "en" and set(langs[:-1]) == {"de"}
    assert pack.other_languages == ("en",)
    with open_readonly(db_path) as con:
        small = build_pack(con, FRAME, "de", weeks=4, limit=3, today=TODAY)
    assert [e.lang for e in small.examples] == ["de"] * 3 and small.other_languages == ()


def test_period_excludes_older_articles(db_path: Path) -> None:
    with open_readonly(db_path) as con:
        later = build_pack(con, FRAME, "de", weeks=1, limit=8, today=date(2026, 12, 31))
    assert later.examples == () and later.good_practice == ()


def test_excerpt_is_short_never_the_whole_text_and_highlights_cues(pack: Pack) -> None:
    for e in pack.examples:
        assert 0 < len(e.excerpt) <= MAX_EXCERPT
        assert e.cut_before and e.cut_after
        if e.lang != "de":
            continue  # German cue words in an English text: the NER may take them for names
        marked = {e.excerpt[h.start : h.end]: h for h in e.highlights}
        assert marked[CUE_WORD].kind == "cue"
        assert marked[LOADED].kind == "loaded_term"
        assert [h.term for h in e.loaded_terms] == ["flüchtlingswelle"]
        assert "Zuwanderung" in e.loaded_terms[0].alternatives
        assert "".join(s.text for s in e.segments) == e.excerpt


def test_private_names_pseudonymised_public_kept(pack: Pack) -> None:
    e = pack.examples[0]
    assert "Bürgermeister Daniel Schranz" in e.excerpt
    assert "Aydın" not in e.excerpt and "Mehmet" not in e.excerpt
    assert "der 34-jährige Person A" in e.excerpt and "Person A sagte" in e.excerpt
    assert all("Aydın" not in x.excerpt for x in pack.examples if x.lang == "de")
    assert pack.pseudonyms >= 1


def test_good_practice_hero_frames_and_migrant_voices(pack: Pack) -> None:
    ids = {e.article_id for e in pack.good_practice}
    assert ids == {"g1", "q1"}
    voiced = next(e for e in pack.good_practice if e.article_id == "q1")
    assert "Ich arbeite hier seit zwei Jahren gern" in voiced.excerpt
    hero = next(e for e in pack.good_practice if e.article_id == "g1")
    assert "Person" in hero.excerpt and "Amal Haddad" not in hero.excerpt


def test_prompts_and_links(pack: Pack) -> None:
    assert len(pack.prompts) >= 3 and pack.prompts[-3] == pack.t["prompt_any_1"]
    assert all(e.url and e.url.startswith("https://") for e in pack.examples)


def test_payload_title_escaped_in_html_and_markdown(pack: Pack) -> None:
    html, md = render_pack(pack, "html"), render_pack(pack, "md")
    assert SCRIPT not in html and IMG not in html and "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<mark class="cue">' + CUE_WORD + "</mark>" in html
    assert SCRIPT not in md and IMG not in md and "[link](javascript" not in md
    assert "\\[link\\]\\(javascript:alert\\(1\\)\\)" in md
    assert f"**{CUE_WORD}**" in md


def test_write_pack_writes_html_and_markdown(pack: Pack, tmp_path: Path) -> None:
    paths = write_pack(pack, tmp_path / "out" / "p.html")
    assert [p.suffix for p in paths] == [".html", ".md"] and all(p.exists() for p in paths)


def test_every_language_file_has_the_same_keys() -> None:
    folder = REPO / "dashboards" / "translations" / "pack"
    keys = {
        lang: set(yaml.safe_load((folder / f"{lang}.yaml").read_text("utf-8")))
        for lang in LANGUAGES
    }
    for lang in LANGUAGES:
        assert keys[lang] == keys["en"], lang


def test_cli_writes_a_pack_and_rejects_bad_codes(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAMEWATCH_DB", str(db_path))
    monkeypatch.setenv("FRAMEWATCH_REPORTS", str(tmp_path))
    runner = CliRunner()
    out = tmp_path / "pack.html"
    result = runner.invoke(
        app, ["pack", "--frame", FRAME, "--lang", "it", "--weeks", "520", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.exists() and out.with_suffix(".md").exists()
    assert "Pacchetto formativo" in out.read_text("utf-8")
    bad = runner.invoke(app, ["pack", "--frame", "threat_nonsense", "--lang", "de"])
    assert bad.exit_code != 0 and "threat_public_order" in bad.output
    bad_lang = runner.invoke(app, ["pack", "--frame", FRAME, "--lang", "xx"])
    assert bad_lang.exit_code != 0


# --- privacy: names in links, in other articles, and the excerpt's edges ------------------

NAMED = (
    "Mehmet Aydın (34) nach Messerangriff festgenommen. "
    "Gefährliche Flüchtlingswelle, sagte ein Anwohner."
)
NAMED_URL = "https://a.example/2026/mehmet-aydin-34-festgenommen"
LATER = (
    "Nach dem Messerangriff am Bahnhof sprach man von einer gefährlichen Flüchtlingswelle. "
    "Aydın schweigt. Der Fall Aydın beschäftigt die Stadt."
)


def build_named_db(path: Path, articles: list[tuple[Row, str, str]]) -> None:
    """A store of (row, canonical URL, evidence sentence) articles, nothing else."""
    con = open_store(path)
    upsert_sources(con, SOURCES)
    stored = [replace(_article(r), canonical_url=url) for r, url, _ in articles]
    framings = [_framing(a, r, ev) for a, (r, _, ev) in zip(stored, articles, strict=True)]
    start_run(con, "run1", "sources.yaml")
    insert_articles(con, stored, "run1")
    save_framings(con, framings)
    con.close()


@pytest.fixture(scope="module")
def named_pack(tmp_path_factory: pytest.TempPathFactory) -> Pack:
    path = tmp_path_factory.mktemp("named") / "named.duckdb"
    later = Row(
        "s2", "b", 0.98, title="Aydın schweigt vor Gericht", text=f"{FILLER}\n{LATER}\n{FILLER}"
    )
    build_named_db(
        path,
        [
            (
                Row(
                    "s1",
                    "a",
                    0.99,
                    title="Messerangriff: Mehmet Aydın (34) festgenommen",
                    text=NAMED,
                ),
                NAMED_URL,
                NAMED.split(". ")[0],
            ),
            (later, "https://b.example/s2", LATER.split(". ")[0] + "."),
        ],
    )
    with open_readonly(path) as con:
        return build_pack(con, FRAME, "de", weeks=4, limit=8, today=TODAY)


def test_link_that_spells_a_hidden_name_goes_to_the_home_page(named_pack: Pack) -> None:
    first = next(e for e in named_pack.examples if e.article_id == "s1")
    assert first.url == "https://a.example/" and first.link_shortened
    other = next(e for e in named_pack.examples if e.article_id == "s2")
    assert other.url == "https://b.example/s2" and not other.link_shortened
    html, md = render_pack(named_pack, "html"), render_pack(named_pack, "md")
    for out in (html, md):
        assert named_pack.t["link_shortened"] in out
        assert "aydin" not in fold(out) and "mehmet" not in fold(out)
    assert "attr(href)" not in html  # print CSS no longer writes the address out


def test_surname_alone_in_another_article_is_replaced(named_pack: Pack) -> None:
    other = next(e for e in named_pack.examples if e.article_id == "s2")
    assert other.title == "Person A schweigt vor Gericht"
    assert "Person A schweigt. Der Fall Person A beschäftigt" in other.excerpt
    assert named_pack.pseudonyms == 1


def test_excerpts_start_and_end_on_a_word(named_pack: Pack, pack: Pack) -> None:
    for e in [*named_pack.examples, *pack.examples, *pack.good_practice]:
        assert e.excerpt == e.excerpt.strip(), repr(e.excerpt[:20])


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (NAMED_URL, Link("https://a.example/", True)),
        ("https://a.example/2026/ayd%C4%B1n-schweigt?x=1", Link("https://a.example/", True)),
        ("http://a.example:8080/p?name=MehmetAydin", Link("http://a.example:8080/", True)),
        ("https://a.example/2026/aydins-anwalt", Link("https://a.example/", True)),
        ("https://a.example/2026/schranz-lobt", Link("https://a.example/2026/schranz-lobt", False)),
        ("https://a.example/2026/ayd", Link("https://a.example/2026/ayd", False)),
        ("javascript:alert(1)", Link(None, False)),
    ],
)
def test_safe_link(url: str, expected: Link) -> None:
    assert safe_link(url, frozenset({"mehmet", "aydin"})) == expected


PRIVATE = [
    ("Mehmet", "Aydın"),
    ("Amal", "Haddad"),
    ("Ahmad", "Karimi"),
    ("Petra", "Meier"),
    ("Olena", "Tkachenko"),
    ("Yusuf", "Demir"),
    ("Ioana", "Popescu"),
]
INTRO = [
    "Der 34-jährige {first} {last} wurde nach dem Messerangriff festgenommen.",
    "{first} {last} (34) wurde nach dem Messerangriff festgenommen.",
    "Frau {first} {last} (52) sprach nach dem Messerangriff mit der Polizei.",
]
LATER_FORMS = [
    "{last} schweigt.",
    "{last}s Anwalt widersprach.",
    "Der Fall {last} beschäftigt die Stadt.",
    "Im Prozess gegen {caps} sagte ein Zeuge aus.",
    "{handle} postete ein Video.",
    "Gestern sagte {last}, es sei ein Irrtum.",
    "Die Familie {last} lebt seit 2015 hier.",
]
TITLES = ["{last} schweigt vor Gericht", "Fall {first} {last}: Urteil erwartet", "{caps} IN HAFT"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(PRIVATE),
    st.sampled_from(INTRO),
    st.lists(st.sampled_from(LATER_FORMS), min_size=1, max_size=3),
    st.sampled_from(TITLES),
)
def test_a_private_name_leaves_no_trace_in_the_pack(
    name: tuple[str, str], intro: str, forms: list[str], title: str
) -> None:
    """Introduced once with a cue, a private name never shows again: not in a title, an
    excerpt, a link, in capitals, inflected, as a handle, nor in another article."""
    first, last = name
    slots = {"first": first, "last": last, "caps": last.upper(), "handle": f"@{fold(first + last)}"}
    sentence = " ".join([intro, *forms, "Gefährliche Flüchtlingswelle, sagte ein Anwohner."])
    text_one = sentence.format(**slots)
    text_two = (
        " ".join(f.format(**slots) for f in forms) + " " + EVIDENCE.split(", während")[0] + "."
    )
    url = f"https://a.example/2026/{fold(first)}-{fold(last)}-festgenommen"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.duckdb"
        build_named_db(
            path,
            [
                (Row("h1", "a", 0.99, title=title.format(**slots), text=text_one), url, text_one),
                (
                    Row(
                        "h2",
                        "b",
                        0.98,
                        title=title.format(**slots),
                        text=f"{FILLER}\n{text_two}\n{FILLER}",
                    ),
                    "https://b.example/h2",
                    text_two,
                ),
            ],
        )
        with open_readonly(path) as con:
            built = build_pack(con, FRAME, "de", weeks=4, limit=8, today=TODAY)
    assert len(built.examples) == 2
    for out in (render_pack(built, "html"), render_pack(built, "md")):
        folded = fold(out)
        assert fold(f"{first} {last}") not in folded and fold(first) not in folded
        assert fold(last)[:4] not in folded, (name, out)


def test_safe_link_keeps_a_slug_of_common_words() -> None:
    """The demo's 'messerstreit-am-hauptbahnhof' slug names nobody once common words are no
    persons; a slug with a private person's name is still cut to the home page."""
    from models.pseudonymise import Pseudonymiser

    pseudo = Pseudonymiser("de")
    text = (
        "Messerstreit am Hauptbahnhof\nDie Polizei sucht weitere Zeugen. Am Bahnhof sagte"
        " Frau Anja Lüdecke (34), sie habe Angst."
    )
    pseudo.learn(text, "de")
    names = pseudo.name_words()
    slug = "https://news.example/messerstreit-am-hauptbahnhof-zwei-maenner-schwer-verletzt"
    assert safe_link(slug, names) == Link(slug, False)
    named = "https://news.example/anja-luedecke-34-bedroht"
    assert safe_link(named, names) == Link("https://news.example/", True)


def test_prompts_follow_their_numbers_not_the_alphabet() -> None:
    from pipeline.pack import prompts

    t = {f"prompt_any_{n}": f"q{n}" for n in (10, 2, 1)} | {"prompt_frame_x_1": "own"}
    assert prompts(t, "x", "threat") == ("own", "q1", "q2", "q10")
