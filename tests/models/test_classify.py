"""The real classifier (e5-small + committed heads + lexicons) on hand-written news texts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from models.classify import Classifier
from models.labels import load_labels
from pipeline.classify_io import framing_json
from pipeline.cli import app
from pipeline.config import Settings
from pipeline.records import Document, Framing

THREAT_DE = Document(
    "de-threat",
    "de",
    "Nach einer Serie von Messerangriffen in der Innenstadt hat die Polizei drei "
    "Asylbewerber festgenommen. Die Täter sollen Migranten aus einer Flüchtlingsunterkunft "
    "sein, die seit Wochen durch Einbrüche, Diebstähle und Gewalt auffallen.\n"
    "Anwohner fürchten sich, nachts auf die Straße zu gehen, und fordern schnellere "
    "Abschiebungen krimineller Ausländer. Die Polizei meldet einen deutlichen Anstieg der "
    "Kriminalität rund um das Flüchtlingsheim.",
    "Kriminelle Migranten: Messerangriffe in der Innenstadt",
)
FOOTBALL_IT = Document(
    "it-football",
    "it",
    "Il Brescia ha battuto l'Atalanta per 2 a 1 nella partita di domenica allo stadio "
    "Rigamonti. Il primo gol è arrivato al ventesimo minuto con un tiro da fuori area del "
    "centrocampista.\nNella ripresa gli ospiti hanno pareggiato su rigore, ma a cinque minuti "
    "dalla fine l'attaccante ha segnato di testa il gol della vittoria. I tifosi hanno "
    "festeggiato a lungo.",
    "Il Brescia batte l'Atalanta 2-1",
)
DROWNING_ES = Document(
    "es-drowning",
    "es",
    "Al menos cuarenta migrantes, entre ellos varios niños, murieron ahogados cuando su "
    "embarcación naufragó frente a la costa de Almería. Los supervivientes relataron que "
    "llevaban tres días a la deriva sin agua ni comida.\nSalvamento Marítimo rescató a doce "
    "personas exhaustas y con hipotermia. Las organizaciones de ayuda a los refugiados "
    "denuncian que la falta de vías seguras obliga a las familias que huyen de la guerra a "
    "arriesgar la vida en el mar.",
    "Mueren cuarenta refugiados en un naufragio frente a Almería",
)
DOCS = [THREAT_DE, FOOTBALL_IT, DROWNING_ES]
OUTPUT_KEYS = {
    "id",
    "lang",
    "migration",
    "migration_score",
    "frames",
    "labels",
    "group",
    "hostile",
    "evidence",
    "terms",
    "quotes",
    "evidence_counts",
    "model_version",
}


@pytest.fixture(scope="module")
def framings(classifier: Classifier) -> dict[str, Framing]:
    return {f.article_id: f for f in classifier.classify(DOCS)}


def check_evidence(f: Framing, doc: Document) -> None:
    for e in f.evidence:
        assert doc.text[e.start : e.end] == e.text, e
        assert e.text.strip()
        for c in e.cues:
            assert doc.text[c.start : c.end] == c.text, c
            assert e.start <= c.start < c.end <= e.end
            assert 0 < c.weight <= 1 and c.source in ("attribution", "lexicon")
    for t in f.terms:
        assert doc.text[t.start : t.end] == t.text, t
    for q in f.quotes:
        assert doc.text[q.start : q.end] == q.text, q


def test_threat_framed_german_crime_story(framings: dict[str, Framing]) -> None:
    f = framings[THREAT_DE.id]
    assert f.migration and f.lang == "de"
    threat = [label for label in f.labels if label.startswith("threat_")]
    assert threat, f.labels
    assert f.group == "threat"
    check_evidence(f, THREAT_DE)
    best: dict[str, list] = {}
    for e in f.evidence:
        best.setdefault(e.label, []).append(e)
    for label in threat:
        first = best[label][0]
        assert first.end > first.start
        # the article probability (noisy-or) is at least its best sentence's probability
        assert first.score <= f.frames[label] + 1e-4
        scores = [e.score for e in best[label]]
        assert scores == sorted(scores, reverse=True)
        assert first.cues, "an assigned label names the words that carry it"
        assert f.evidence_counts[label] >= 1
    assert {t.kind for t in f.terms} >= {"migration_term"}


def test_italian_football_report_is_not_migration(framings: dict[str, Framing]) -> None:
    f = framings[FOOTBALL_IT.id]
    assert f.migration is False
    assert f.labels == () and f.group == "none" and f.hostile == 0.0
    assert f.migration_score < 0.5


def test_spanish_drowning_story_is_victim_framed(framings: dict[str, Framing]) -> None:
    f = framings[DROWNING_ES.id]
    assert f.migration
    assert any(label.startswith("victim_") for label in f.labels), f.labels
    assert not any(label.startswith("threat_") for label in f.labels), f.labels
    check_evidence(f, DROWNING_ES)


def test_framing_json_has_exactly_the_documented_keys(framings: dict[str, Framing]) -> None:
    codes = set(load_labels().codes)
    for doc in DOCS:
        f = framings[doc.id]
        out = framing_json(f)
        assert set(out) == OUTPUT_KEYS
        assert out["id"] == doc.id
        json.dumps(out)  # serialisable as one JSONL line
        assert set(out["labels"]) <= codes
        assert {e["label"] for e in out["evidence"]} == set(out["labels"])
        for e in out["evidence"]:
            assert doc.text[e["start"] : e["end"]] == e["text"]
        assert all(t["kind"] != "migration_term" for t in out["terms"])
        assert out["model_version"] and out["model_version"] == f.model_version
        if f.migration:
            assert set(out["frames"]) == codes


def test_empty_input_gives_empty_output(classifier: Classifier) -> None:
    assert classifier.classify([]) == []


def test_classify_is_deterministic(classifier: Classifier, framings: dict[str, Framing]) -> None:
    again = {f.article_id: f for f in classifier.classify(DOCS)}
    assert again == framings


def test_cli_classify_detects_missing_language(
    classifier: Classifier, settings: Settings, tmp_path: Path
) -> None:
    src, dst = tmp_path / "in.jsonl", tmp_path / "out" / "framings.jsonl"
    french = (
        "Le conseil municipal de Grenoble a voté mardi un nouveau plan pour les pistes "
        "cyclables du centre-ville. Les travaux commenceront au printemps."
    )
    rows = [
        {"id": "a", "lang": "de", "text": THREAT_DE.text},
        {"id": "b", "lang": "it", "text": FOOTBALL_IT.text},
        {"id": "c", "text": french},
    ]
    src.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    env = {"FRAMEWATCH_MODEL_CACHE": str(settings.model_cache)}
    result = CliRunner().invoke(
        app, ["classify", "--input", str(src), "--output", str(dst)], env=env
    )
    assert result.exit_code == 0, result.output
    lines = dst.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    out = [json.loads(line) for line in lines]
    assert [o["id"] for o in out] == ["a", "b", "c"]
    assert [o["lang"] for o in out] == ["de", "it", "fr"]
    assert out[0]["migration"] is True and out[2]["migration"] is False
    assert all(set(o) == OUTPUT_KEYS for o in out)


def test_an_absurdly_long_text_is_read_up_to_the_cap(classifier: Classifier) -> None:
    """A 1.2 M-character paragraph (spaCy refuses > 1 M) must not break a run."""
    from models.classify import MAX_CHARS

    text = "Die Geflüchteten warten vor dem Rathaus und " * 30_000  # one huge sentence
    (framing,) = classifier.classify([Document("huge", "de", text)])
    assert len(text) > 1_000_000
    assert all(hit.end <= MAX_CHARS for hit in framing.terms)
