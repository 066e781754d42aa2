"""`framewatch eval` on a small labelled file: the tables, and a JSON last line that agrees
with the library's own figures."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from models.classify import Classifier
from models.data import load_dataset, load_seeds
from models.evaluate import evaluate, summary
from models.heads import HEADS_DIR
from pipeline.cli import app
from pipeline.config import Settings


def _dataset(path: Path) -> Path:
    seeds = load_seeds()[::40]  # every language, framed and unframed
    rows = [
        {
            "id": e.id,
            "text": e.text,
            "lang": e.lang,
            "group": e.group,
            "labels": list(e.labels or ()),
        }
        for e in seeds
    ]
    rows.append(
        {"id": "h1", "text": "These vermin should all be deported.", "lang": "en", "hostile": True}
    )
    rows.append({"id": "h2", "text": "The library opens at nine.", "lang": "en", "hostile": False})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_eval_cli_prints_tables_and_a_json_summary(
    classifier: Classifier, settings: Settings, tmp_path: Path
) -> None:
    data = _dataset(tmp_path / "d.jsonl")
    env = {"FRAMEWATCH_MODEL_CACHE": str(settings.model_cache)}
    result = CliRunner().invoke(
        app, ["eval", "--dataset", str(data), "--heads", str(HEADS_DIR)], env=env
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    last = json.loads(lines[-1])
    expected = summary(evaluate(classifier, load_dataset(data)))
    assert last == expected
    assert set(last["per_language_fine_macro_f1"]) == {
        "de",
        "en",
        "es",
        "fr",
        "hr",
        "it",
        "pl",
        "pt",
    }
    assert 0.0 <= last["ece"] <= 1.0 and 0.0 <= last["hostile_f1"] <= 1.0
    text = "\n".join(lines)
    for needle in ("fine-label macro-F1", "group confusion", "calibration error", "hostile:"):
        assert needle in text


def test_eval_by_article_runs_the_whole_classifier(classifier: Classifier) -> None:
    seeds = [e for e in load_seeds() if e.labels][:3]
    report = evaluate(classifier, seeds, unit="article")
    assert report["unit"] == "article" and report["frames"]["labels"]
