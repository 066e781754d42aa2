"""Near-duplicate stories on realistic copies: syndicated, republished, same event, templates."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np

from pipeline import dedup
from pipeline.dedup import Signed, assign_stories, signature, similarity

WIRE = (
    "Die Stadt Oberhausen will bis zum Frühjahr eine zusätzliche Unterkunft für Geflüchtete "
    "in einer ehemaligen Schule einrichten. Das teilte die Verwaltung am Dienstag nach einer "
    "Sitzung des Sozialausschusses mit.\n"
    "In dem Gebäude an der Lindnerstraße sollen bis zu 180 Menschen Platz finden, vor allem "
    "Familien mit Kindern. Die Kosten für den Umbau schätzt die Stadt auf rund 2,4 Millionen "
    "Euro, von denen das Land nach eigenen Angaben etwa die Hälfte übernehmen will.\n"
    "Sozialdezernent Jürgen Schmidt sagte, die bestehenden Einrichtungen seien seit dem "
    "Sommer voll belegt. „Wir brauchen dringend Plätze, die wir kurzfristig nutzen können, "
    "und wir wollen keine Turnhallen belegen“, sagte er.\n"
    "Anwohner hatten bei einer Informationsveranstaltung im Oktober Fragen zur Betreuung und "
    "zum Schulweg ihrer Kinder gestellt. Die Stadt kündigte an, einen Sicherheitsdienst "
    "einzusetzen und eine Sprechstunde für Nachbarn anzubieten. Auch ein Runder Tisch mit "
    "Kirchengemeinden, Sportvereinen und der Polizei soll regelmäßig tagen.\n"
    "Der Flüchtlingsrat begrüßte die Pläne grundsätzlich, forderte aber mehr Personal für die"
    " Sozialarbeit. Nach Angaben des Landes sind derzeit in Nordrhein-Westfalen rund 30.000 "
    "Plätze in kommunalen Unterkünften belegt. Der Rat der Stadt soll am 12. Dezember "
    "abschließend über das Vorhaben entscheiden."
)

# The same agency story in another paper: its own intro instead of the first paragraph,
# and a local sign-off.
SYNDICATED = "\n".join(
    [
        "Neue Pläne für die alte Hauptschule im Knappenviertel: Nach Jahren des Leerstands soll "
        "in das Gebäude wieder Leben einziehen, wenn auch anders als von vielen Nachbarn "
        "erhofft.",
        *WIRE.split("\n")[1:],
        "Was halten Sie von den Plänen? Schreiben Sie uns an leserbriefe@wochenblatt-"
        "oberhausen.de. (dpa/red)",
    ]
)

# The outlet republishes its own story under a new URL after a few small corrections.
EDITED = (
    "Die Stadt Oberhausen will bis zum Frühjahr eine weitere Unterkunft für Geflüchtete in "
    "einer früheren Schule einrichten. Das teilte die Verwaltung am Dienstagabend nach einer "
    "Sitzung des Sozialausschusses mit.\n"
    "In dem Gebäude an der Lindnerstraße sollen bis zu 180 Menschen Platz finden, vor allem "
    "Familien mit Kindern. Die Kosten für den Umbau schätzt die Stadt auf rund 2,6 Millionen "
    "Euro, von denen das Land nach eigenen Angaben etwa die Hälfte übernehmen will.\n"
    "Sozialdezernent Jürgen Schmitz sagte, die bestehenden Einrichtungen seien seit dem "
    "Sommer voll belegt. „Wir brauchen dringend Plätze, die wir kurzfristig nutzen können, "
    "und wir wollen keine Turnhallen belegen“, sagte er.\n"
    "Anwohner hatten bei einer Informationsveranstaltung im Oktober Fragen zur Betreuung und "
    "zum Schulweg ihrer Kinder gestellt. Die Stadt kündigte an, einen Sicherheitsdienst "
    "einzusetzen und eine Sprechstunde für Nachbarn anzubieten.\n"
    "Der Flüchtlingsrat begrüßte die Pläne grundsätzlich, forderte aber mehr Personal für die"
    " Sozialarbeit. Nach Angaben des Landes sind derzeit in Nordrhein-Westfalen rund 30.000 "
    "Plätze in kommunalen Unterkünften belegt. Der Rat der Stadt soll am 12. Dezember "
    "abschließend über das Vorhaben entscheiden.\n"
    "Update: In einer früheren Fassung stand ein falscher Name des Dezernenten."
)

# Another paper's own report of the same event: same facts, same quote, its own words.
SAME_EVENT = (
    "Aus der früheren Schule an der Lindnerstraße wird eine Unterkunft für Geflüchtete. Im "
    "Sozialausschuss stellte die Verwaltung am Dienstag ihre Pläne vor: Bis zu 180 Menschen, "
    "überwiegend Familien mit Kindern, sollen dort ab dem Frühjahr wohnen. Der Umbau kostet "
    "nach Schätzung der Stadt 2,4 Millionen Euro, die Hälfte will das Land tragen.\n"
    "„Wir brauchen dringend Plätze, die wir kurzfristig nutzen können, und wir wollen keine "
    "Turnhallen belegen“, sagte Sozialdezernent Jürgen Schmidt im Ausschuss. Die CDU-Fraktion"
    " stimmte den Plänen zu, die Grünen verlangten ein Konzept dafür, wie die Kinder in den "
    "umliegenden Grundschulen aufgenommen werden.\n"
    "In der Nachbarschaft ist die Stimmung gemischt. Eine Anwohnerin, die seit dreißig Jahren"
    " gegenüber der Schule wohnt, sagte unserer Zeitung, sie habe nichts gegen die neuen "
    "Nachbarn, wünsche sich aber mehr Informationen. Ein Vater sorgt sich um den Schulweg "
    "seiner Tochter. Die Stadt will einen Sicherheitsdienst einsetzen und eine Sprechstunde "
    "anbieten.\n"
    "Der Rat entscheidet am 12. Dezember."
)

NOTICE_A = (
    "Die Polizei sucht Zeugen eines Einbruchs in eine Wohnung an der Mülheimer Straße. "
    "Unbekannte Täter hebelten am Montag zwischen 8 und 17 Uhr die Wohnungstür auf und "
    "stahlen Schmuck und Bargeld. Hinweise nimmt die Polizei unter der Rufnummer 0208 8260 "
    "entgegen."
)

NOTICE_B = (
    "Die Polizei sucht Zeugen eines Einbruchs in eine Wohnung an der Bebelstraße. Unbekannte "
    "Täter hebelten am Mittwoch zwischen 9 und 13 Uhr die Wohnungstür auf und stahlen Schmuck"
    " und eine Spielkonsole. Hinweise nimmt die Polizei unter der Rufnummer 0208 8260 "
    "entgegen."
)

T0 = datetime(2026, 11, 20, 8, tzinfo=UTC)


def signed(i: str, text: str, hours: float = 0, story: str | None = None) -> Signed:
    return Signed(i, T0 + timedelta(hours=hours), signature(text), story)


def sim(a: str, b: str) -> float:
    sa, sb = signature(a), signature(b)
    assert sa is not None and sb is not None
    return similarity(sa, sb)


def test_copies_are_near_and_different_reports_are_far() -> None:
    # The figures dedup's docstring reasons from (estimates; the true Jaccard is close).
    assert sim(WIRE, SYNDICATED) >= dedup.THRESHOLD + 0.1
    assert sim(WIRE, EDITED) >= dedup.THRESHOLD + 0.1
    assert sim(WIRE, SAME_EVENT) <= 0.1
    assert sim(WIRE, WIRE) == 1.0


def test_syndicated_and_republished_copies_join_the_first_story() -> None:
    stories = assign_stories(
        [],
        [
            signed("wire", WIRE),
            signed("synd", SYNDICATED, hours=2),
            signed("edit", EDITED, hours=30),
            signed("event", SAME_EVENT, hours=3),
        ],
    )
    assert stories == {"wire": "wire", "synd": "wire", "edit": "wire", "event": "event"}


def test_short_templated_notices_are_left_to_exact_copy_detection() -> None:
    assert signature(NOTICE_A) is None and signature(NOTICE_B) is None
    stories = assign_stories([], [signed("a", NOTICE_A), signed("b", NOTICE_A, hours=1)])
    assert stories == {"a": "a", "b": "b"}  # the store links exact copies by content_hash


def test_a_stored_story_keeps_its_id_and_order_decides_within_a_batch() -> None:
    stored = [signed("old-copy", SYNDICATED, hours=-48, story="root")]
    # the new batch is given out of order: the earlier article must be processed first
    new = [signed("b", EDITED, hours=5), signed("a", WIRE, hours=1)]
    assert assign_stories(stored, new) == {"a": "root", "b": "root"}


def test_an_article_joins_the_most_similar_story_not_the_first() -> None:
    # Both stored articles are copies of WIRE above the threshold; `near` is the closer one.
    corrected = WIRE.replace("Oberhausen", "Mülheim", 1)
    assert dedup.THRESHOLD <= sim(WIRE, SYNDICATED) < sim(WIRE, corrected) < 1.0
    far = signed("far", SYNDICATED, hours=-10, story="far")  # earlier: a tie would pick it
    near = signed("near", corrected, hours=-5, story="near")
    assert assign_stories([far, near], [signed("new", WIRE)]) == {"new": "near"}
    assert assign_stories([far], [signed("new", WIRE)]) == {"new": "far"}  # a candidate


def test_an_article_never_joins_a_story_that_began_after_it() -> None:
    later = signed("later", SYNDICATED, hours=5, story="later")
    assert assign_stories([later], [signed("old", WIRE)]) == {"old": "old"}


def test_a_copy_more_than_the_window_apart_is_not_a_match() -> None:
    hours = dedup.WINDOW_DAYS * 24
    stored = [signed("wire", WIRE, story="wire")]
    assert assign_stories(stored, [signed("in", SYNDICATED, hours=hours)]) == {"in": "wire"}
    assert assign_stories(stored, [signed("out", SYNDICATED, hours=hours + 1)]) == {"out": "out"}


def test_articles_already_stored_are_not_reassigned() -> None:
    stored = [signed("wire", WIRE, story="wire")]
    assert assign_stories(stored, [signed("wire", WIRE)]) == {}


def test_normalisation_ignores_case_punctuation_and_quote_style() -> None:
    a = "„Wir brauchen dringend Plätze“, sagte er. " + WIRE
    b = '"wir BRAUCHEN dringend plätze", sagte er ... ' + WIRE
    assert sim(a, b) == 1.0


def test_signatures_are_stable_across_processes() -> None:
    # Stored signatures are compared with new ones in later runs: they must not depend on
    # the process (Python's hash() is salted per process; dedup must not use it).
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from pipeline.dedup import signature;"
        f"print(signature({WIRE!r}).tolist())"
    )
    env = {"PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    here = signature(WIRE)
    assert here is not None and here.dtype == np.uint32 and len(here) == dedup.NUM_PERM
    assert out.strip() == str([int(v) for v in here])
