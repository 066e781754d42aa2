"""Quotes and their speakers, on the real spaCy pipelines (no mocks)."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.nlp import parse
from models.voice import (
    CATEGORY_ORDER,
    MAX_QUOTE_CHARS,
    VOICE_DIR,
    find_quotes,
    get_voice,
    load_voice,
)
from pipeline.language import SUPPORTED
from pipeline.records import Quote

LANGS = ("de", "it", "pt", "pl", "hr", "es", "fr", "en")


def quotes_of(text: str, lang: str) -> list[Quote]:
    """find_quotes, with the offset invariants checked on every result."""
    quotes = find_quotes(text, lang)
    for q in quotes:
        assert text[q.start : q.end] == q.text, q
        if q.speaker:
            assert text[q.speaker_start : q.speaker_end] == q.speaker, q
        else:
            assert (q.speaker_start, q.speaker_end, q.speaker_category) == (-1, -1, "unknown")
        assert q.speaker_category in (*CATEGORY_ORDER, "unknown")
    return quotes


# (lang, text, quote text, speaker, category): one migrant and one other voice per language
ATTRIBUTED = [
    (
        "de",
        "„Wir sind vor dem Krieg geflohen und wollen hier endlich arbeiten“, sagte die "
        "Geflüchtete Amal Haddad.",
        "Wir sind vor dem Krieg geflohen und wollen hier endlich arbeiten",
        "Geflüchtete Amal Haddad",
        "migrant",
    ),
    (
        "de",
        "Laut Polizeisprecher Jens Berger: „Die Lage am Bahnhof hat sich deutlich beruhigt.“",
        "Die Lage am Bahnhof hat sich deutlich beruhigt.",
        "Polizeisprecher Jens Berger",
        "police",
    ),
    (
        "de",
        "„Niemand wird in Turnhallen schlafen müssen“, betonte Oberbürgermeisterin Anna Meier "
        "am Montag.",
        "Niemand wird in Turnhallen schlafen müssen",
        "Oberbürgermeisterin Anna Meier",
        "official",
    ),
    (
        "it",
        "«Sono arrivato in Italia due anni fa e ora lavoro in un panificio», racconta Ibrahim, "
        "richiedente asilo originario del Mali.",
        "Sono arrivato in Italia due anni fa e ora lavoro in un panificio",
        "Ibrahim, richiedente asilo originario del Mali",
        "migrant",
    ),
    (
        "it",
        "«Non c'è nessuna emergenza, i numeri sono sotto controllo», ha detto il sindaco Paolo "
        "Rossi.",
        "Non c'è nessuna emergenza, i numeri sono sotto controllo",
        "sindaco Paolo Rossi",
        "official",
    ),
    (
        "pt",
        "«Cheguei do Nepal há três anos e trabalho na restauração», conta Bikash, imigrante "
        "nepalês.",
        "Cheguei do Nepal há três anos e trabalho na restauração",
        "Bikash, imigrante nepalês",
        "migrant",
    ),
    (
        "pt",
        "«A situação está controlada e não há motivo para alarme», afirmou o comandante da PSP, "
        "João Silva.",
        "A situação está controlada e não há motivo para alarme",
        "comandante da PSP, João Silva",
        "police",
    ),
    (
        "pl",
        "„Uciekłam z Charkowa z dwójką dzieci i tu zaczęłam nowe życie” – mówi Olena, "
        "uchodźczyni z Ukrainy.",
        "Uciekłam z Charkowa z dwójką dzieci i tu zaczęłam nowe życie",
        "Olena, uchodźczyni z Ukrainy",
        "migrant",
    ),
    (
        "pl",
        "„Nie ma żadnego zagrożenia dla mieszkańców” – powiedział rzecznik policji Adam Nowak.",
        "Nie ma żadnego zagrożenia dla mieszkańców",
        "rzecznik policji Adam Nowak",
        "police",
    ),
    (
        "hr",
        "„Došao sam iz Nepala prije dvije godine i radim na gradilištu“, rekao je strani radnik "
        "Ram Thapa.",
        "Došao sam iz Nepala prije dvije godine i radim na gradilištu",
        "strani radnik Ram Thapa",
        "migrant",
    ),
    (
        "hr",
        "„Grad će osigurati smještaj za sve obitelji“, izjavila je gradonačelnica Ana Kovač.",
        "Grad će osigurati smještaj za sve obitelji",
        "gradonačelnica Ana Kovač",
        "official",
    ),
    (
        "es",
        "«Llegué en patera hace cuatro años y ahora tengo trabajo», explica Mamadou, un joven "
        "migrante senegalés.",
        "Llegué en patera hace cuatro años y ahora tengo trabajo",
        "Mamadou, un joven migrante senegalés",
        "migrant",
    ),
    (
        "es",
        "«No vamos a tolerar ningún discurso de odio en la ciudad», dijo la alcaldesa María López.",
        "No vamos a tolerar ningún discurso de odio en la ciudad",
        "alcaldesa María López",
        "official",
    ),
    (
        "fr",
        "« Je suis arrivé en France il y a trois ans et je travaille dans le bâtiment », "
        "raconte Moussa, demandeur d'asile guinéen.",
        "Je suis arrivé en France il y a trois ans et je travaille dans le bâtiment",
        "Moussa, demandeur d'asile guinéen",
        "migrant",
    ),
    (
        "fr",
        "« Nous avons renforcé les patrouilles autour de la gare », a déclaré le commissaire "
        "Paul Martin.",
        "Nous avons renforcé les patrouilles autour de la gare",
        "commissaire Paul Martin",
        "police",
    ),
    (
        "en",
        '"I came here to work and to keep my children safe," said Ahmad, a Syrian refugee.',
        "I came here to work and to keep my children safe",
        "Ahmad, a Syrian refugee",
        "migrant",
    ),
    (
        "en",
        'Mayor John Smith said: "We will open the new centre next month."',
        "We will open the new centre next month.",
        "Mayor John Smith",
        "official",
    ),
    (
        "en",
        '"Applications have doubled this year," said a spokesperson for the Irish Refugee Council.',
        "Applications have doubled this year",
        "spokesperson for the Irish Refugee Council",
        "ngo",
    ),
]


@pytest.mark.parametrize(("lang", "text", "quote", "speaker", "category"), ATTRIBUTED)
def test_quote_and_speaker(lang: str, text: str, quote: str, speaker: str, category: str) -> None:
    quotes = quotes_of(text, lang)
    assert [(q.text, q.speaker, q.speaker_category) for q in quotes] == [(quote, speaker, category)]
    assert quotes[0].cue != "quote-marks"


def test_every_language_has_a_migrant_and_another_voice() -> None:
    for lang in LANGS:
        cats = {c for lg, *_, c in ATTRIBUTED if lg == lang}
        assert "migrant" in cats and cats - {"migrant"}, lang


def test_pronoun_resolved_to_the_person_named_before() -> None:
    text = (
        "Garda Sergeant Mary Byrne said the patrols would continue. "
        "'We are not going anywhere,' she said."
    )
    [q] = quotes_of(text, "en")
    assert (q.speaker, q.speaker_category, q.cue) == ("Garda Sergeant Mary Byrne", "police", "said")


def test_dropped_subject_resolved_in_italian() -> None:
    text = (
        "Di tutt'altro tono la replica dell'assessora alle Politiche sociali, Chiara Bonomelli. "
        "«Parlare di invasione non aiuta nessuno», ha ribattuto."
    )
    [q] = quotes_of(text, "it")
    assert q.speaker.endswith("Chiara Bonomelli") and q.speaker_category == "official"
    assert q.cue == "ha ribattuto"


def test_second_quote_of_a_paragraph_keeps_its_speaker() -> None:
    text = (
        "«Siamo davanti a un'ondata di sbarchi senza precedenti», ha attaccato Marco "
        "Ferlinghetti, capogruppo della lista civica. «E qui non arrivano famiglie in fuga.»"
    )
    first, second = quotes_of(text, "it")
    assert first.speaker == "Marco Ferlinghetti, capogruppo della lista civica"
    assert (second.speaker, second.speaker_category) == (first.speaker, "official")
    assert second.cue in ("ha attaccato", "continuation")


def test_polish_abbreviated_rank_does_not_end_the_speaker() -> None:
    text = (
        "„Ten scenariusz powtarza się od lat i wciąż jest skuteczny” – mówi mł. asp. Karol "
        "Wiśniewski z komendy miejskiej."
    )
    [q] = quotes_of(text, "pl")
    assert q.speaker.startswith("mł. asp. Karol Wiśniewski") and q.speaker_category == "police"


def test_colon_attribution_without_a_speech_verb() -> None:
    [q] = quotes_of("L'assessora Bonomelli: «Nessuna emergenza, serve programmazione».", "it")
    assert (q.speaker, q.speaker_category, q.cue) == ("assessora Bonomelli", "official", "colon")


def test_german_relative_clause_is_skipped_for_the_speaker() -> None:
    text = (
        "Den meisten Beifall bekam eine Frau, die nach dem Geld fragte: „Für die Container "
        "werden Millionen ausgegeben, und für uns bleibt nichts.“"
    )
    [q] = quotes_of(text, "de")
    assert q.speaker == "Frau" and q.cue == "fragte"


def test_unattributed_quote_has_no_speaker() -> None:
    [q] = quotes_of("Auf dem Plakat stand: „Wir schaffen das gemeinsam mit euch“.", "de")
    assert (q.speaker, q.speaker_start, q.speaker_end) == ("", -1, -1)
    assert (q.speaker_category, q.cue) == ("unknown", "quote-marks")


def test_scare_quotes_are_not_quotes() -> None:
    assert quotes_of("Er sprach von „Flüchtlingswelle“ und von „Asyltourismus“.", "de") == []
    assert quotes_of("Un élu a parlé de « submersion migratoire » hier.", "fr") == []
    assert quotes_of("He called it 'chaos' and 'a disgrace' on air.", "en") == []


def test_multi_sentence_quote_is_found_once() -> None:
    text = (
        "„Wir sind müde. Wir wollen nur arbeiten! Ist das zu viel verlangt?“, sagte der "
        "Asylbewerber Samir K."
    )
    [q] = quotes_of(text, "de")
    assert q.text == "Wir sind müde. Wir wollen nur arbeiten! Ist das zu viel verlangt?"
    assert q.speaker_category == "migrant"


def test_english_apostrophes_do_not_delimit_quotes() -> None:
    text = (
        "'I didn't even see it go in, to be honest,' said Murtagh, who's only back from "
        "injury. 'Half the lads weren't born the last time we won it.'"
    )
    first, second = quotes_of(text, "en")
    assert first.text == "I didn't even see it go in, to be honest"
    assert second.text == "Half the lads weren't born the last time we won it."
    assert first.speaker == second.speaker == "Murtagh"


def test_nested_marks_stay_inside_the_outer_quote() -> None:
    text = '« Il m\'a dit "non merci" et il est reparti tout de suite », raconte une voisine.'
    [q] = quotes_of(text, "fr")
    assert q.text == 'Il m\'a dit "non merci" et il est reparti tout de suite'
    assert q.speaker_category == "citizen"


def test_unbalanced_marks_do_not_crash_or_overreach() -> None:
    assert quotes_of("„Das ist ein Satz ohne Ende, sagte er, und dann kam nichts mehr.", "de") == []
    text = "»Erst das hier und dann „noch ein viel längerer Satz ohne Schluss, sagte sie."
    assert quotes_of(text, "de") == []
    stray = "Er sagte „ " + "sehr " * 400 + "“ und ging."
    assert all(len(q.text) <= MAX_QUOTE_CHARS for q in quotes_of(stray, "de"))


def test_quote_running_on_into_the_next_paragraph_takes_its_speaker() -> None:
    text = (
        "„Wir haben alles versucht, aber die Stadt hat uns nie zugehört.\n"
        "„Jetzt reicht es uns endgültig“, sagte Anwohnerin Petra Schulz."
    )
    first, second = quotes_of(text, "de")
    assert first.text == "Wir haben alles versucht, aber die Stadt hat uns nie zugehört."
    assert first.speaker == second.speaker == "Anwohnerin Petra Schulz"
    assert first.speaker_category == "citizen"


def test_offsets_count_from_the_start_of_the_article() -> None:
    text = "Erster Absatz ohne Zitat.\n\n„Hier spricht die Polizei selbst“, sagte ein Beamter."
    [q] = quotes_of(text, "de")
    assert q.start == text.index("Hier") and q.speaker == "Beamter"


def test_parsed_paragraphs_are_reused() -> None:
    text = "«Non c'è nessuna emergenza in città», ha detto il sindaco.\n«Altro testo qui ora»."
    assert find_quotes(text, "it", parse(text, "it")) == quotes_of(text, "it")


def test_empty_text() -> None:
    assert find_quotes("", "de") == []
    assert find_quotes("  \n\n ", "en") == []


def test_unknown_language_finds_quotes_but_no_speakers() -> None:
    [q] = quotes_of('"Wij zijn blij met de nieuwe buren," zei burgemeester De Vries.', "nl")
    assert q.text == "Wij zijn blij met de nieuwe buren"
    assert (q.speaker, q.cue) == ("", "quote-marks")


@pytest.mark.parametrize("lang", LANGS)
def test_data_file(lang: str) -> None:
    data = yaml.safe_load((VOICE_DIR / f"{lang}.yaml").read_text(encoding="utf-8"))
    assert data["lang"] == lang and lang in SUPPORTED
    assert "project-authored" in (VOICE_DIR / f"{lang}.yaml").read_text(encoding="utf-8").lower()
    voice = load_voice(lang)
    assert all(len(o) == 1 and len(c) == 1 for o, c in voice.marks)
    assert len(voice.verbs) >= 40 and voice.pronouns
    assert [c.name for c in voice.categories] == list(CATEGORY_ORDER)
    for cat in voice.categories:
        assert 20 <= len(cat.words) + len(cat.stems) <= 90, (lang, cat.name)
        assert all(len(stem) >= 4 for stem in cat.stems), (lang, cat.name)


# (lang, introduction, quote attributed by name only, speaker, category): the speaker profile
PROFILED = [
    (
        "de",
        "Mehmet Aydın, der vor 30 Jahren aus der Türkei kam, betreibt einen Kiosk in Sterkrade.",
        "„Die Kunden kennen mich seit Jahrzehnten“, sagte Aydın.",
        "Aydın",
        "migrant",
    ),
    (
        "de",
        "Birgit Hallmann, Sozialdezernentin der Stadt, stellte die Zahlen vor.",
        "„Wir haben genug Plätze für alle“, sagte Hallmann.",
        "Hallmann",
        "official",
    ),
    (
        "en",
        "Fatumata Baldé, who came from Guinea-Bissau in 2015, sells fabric at the market.",
        "'People here have been kind to us,' Baldé said.",
        "Baldé",
        "migrant",
    ),
    (
        "en",
        "Declan Furlong, an independent councillor for the area, called the meeting.",
        "'We were never consulted about any of it,' said Furlong.",
        "Furlong",
        "official",
    ),
    (
        "fr",
        "Zabihullah, 24 ans, arrivé d'Afghanistan en 2021, grimpe trois fois par semaine.",
        "« Ici, personne ne me demande mes papiers », sourit Zabihullah.",
        "Zabihullah",
        "migrant",
    ),
    (
        "fr",
        "Olivier Mandin, directeur de l'association gestionnaire, a présenté le projet.",
        "« Les familles seront accompagnées dès leur arrivée », assure Mandin.",
        "Mandin",
        "ngo",
    ),
    (
        "it",
        "Moussa Diop, 41 anni, è arrivato dal Senegal nel 2006.",
        "«Pago le tasse qui da vent'anni», racconta Diop.",
        "Diop",
        "migrant",
    ),
    (
        "it",
        "Chiara Bonomelli, assessora alle Politiche sociali, ha presentato i dati.",
        "«Non c'è nessuna emergenza in città», ha detto Bonomelli.",
        "Bonomelli",
        "official",
    ),
    (
        "pt",
        "Rajesh Kumar chegou da Índia há seis anos e trabalha na cozinha de um restaurante.",
        "«Tenho contrato e pago os meus impostos», conta Kumar.",
        "Kumar",
        "migrant",
    ),
    (
        "pt",
        "Helena Marques Duarte, coordenadora da associação, explicou o projeto.",
        "«As perguntas são quase sempre práticas», diz Duarte.",
        "Duarte",
        "ngo",
    ),
    (
        "es",
        "Youssef El Amrani llegó de Marruecos en 2009 y hoy regenta el horno del barrio.",
        "«Aquí me casé y aquí van al colegio mis hijas», recuerda Youssef.",
        "Youssef",
        "migrant",
    ),
    (
        "es",
        "Lucía Ferrando, educadora social de la asociación Puente Sur, defiende el centro.",
        "«Hablamos de chavales que van a ir al instituto», explica Ferrando.",
        "Ferrando",
        "ngo",
    ),
    (
        "pl",
        "Rozmawiamy z Igorem Kowalczukiem, który w 2022 roku przyjechał z Ukrainy.",
        "„Tu zaczęliśmy wszystko od nowa” – mówi Kowalczuk.",
        "Kowalczuk",
        "migrant",
    ),
    (
        "pl",
        "Głos zabrała radna Iwona Krajewska.",
        "„Nikt nie pytał mieszkańców o zdanie” – mówi Krajewska.",
        "Krajewska",
        "official",
    ),
    (
        "hr",
        "Razgovarali smo s Kiranom Gurungom, koji je iz Nepala došao prije dvije godine.",
        "„Plaća kasni već tri mjeseca“, kaže Gurung.",
        "Gurung",
        "migrant",
    ),
    (
        "hr",
        "Vijećnik nezavisne liste Ante Grgić bio je najoštriji.",
        "„Naši ljudi još žive u kontejnerima“, rekao je Grgić.",
        "Grgić",
        "official",
    ),
]


@pytest.mark.parametrize(("lang", "intro", "quoted", "speaker", "category"), PROFILED)
def test_name_introduced_earlier_gives_the_category(
    lang: str, intro: str, quoted: str, speaker: str, category: str
) -> None:
    [q] = quotes_of(f"{intro}\n{quoted}", lang)
    assert (q.speaker, q.speaker_category) == (speaker, category)


@pytest.mark.parametrize(
    ("lang", "quoted", "speaker"), [(lg, qt, sp) for lg, _, qt, sp, c in PROFILED if c == "migrant"]
)
def test_name_never_introduced_stays_unknown(lang: str, quoted: str, speaker: str) -> None:
    [q] = quotes_of(quoted, lang)
    assert (q.speaker, q.speaker_category) == (speaker, "unknown")


def test_every_language_has_a_profile_test() -> None:
    for lang in LANGS:
        cats = {c for lg, *_, c in PROFILED if lg == lang}
        assert "migrant" in cats and cats - {"migrant"}, lang


def test_origin_of_a_speaker_described_directly() -> None:
    [q] = quotes_of("'We slept in the park for a week,' said a 24-year-old from Eritrea.", "en")
    assert q.speaker_category == "migrant"


def test_place_taken_for_a_speaker_gets_no_profile() -> None:
    # the speaker finder takes the place for the subject; its origin cue is no person's
    text = (
        "Chegou de Cabo Verde há seis anos e trabalha no lar desde a primeira semana. "
        "«Aqui somos todos uma família», conta."
    )
    [q] = quotes_of(text, "pt")
    assert (q.speaker, q.speaker_category) == ("Cabo Verde", "unknown")


def test_name_mentioned_only_as_a_place_is_not_introduced() -> None:
    text = (
        "Many of the families fled to Jordan in 2013.\n"
        "'We had nothing when we arrived here,' said Jordan."
    )
    [q] = quotes_of(text, "en")
    assert (q.speaker, q.speaker_category) == ("Jordan", "unknown")


def test_surname_after_another_first_name_is_another_person() -> None:
    text = (
        "Fernanda Cardoso, que chegou do Brasil em 1998, herdou a taberna dos pais.\n"
        "«Aqui cresci a ver o meu pai na cozinha», conta Miguel Cardoso."
    )
    [q] = quotes_of(text, "pt")
    assert (q.speaker, q.speaker_category) == ("Miguel Cardoso", "unknown")


def test_role_named_later_in_the_clause_is_not_the_speakers() -> None:
    text = (
        "Mohammed Rahman tem uma loja de telemóveis na praça e entregou à polícia imagens de "
        "videovigilância.\n«Somos os primeiros a querer segurança na praça», diz Rahman."
    )
    [q] = quotes_of(text, "pt")
    assert q.speaker_category == "citizen"  # the shop, not the police


def test_another_speakers_apposition_is_not_read() -> None:
    text = (
        "Zabihullah, 24 ans, arrivé d'Afghanistan en 2021, grimpe avec Julien Martin, moniteur "
        "bénévole.\n« Ici, personne ne me demande mes papiers », sourit Zabihullah.\n"
        "« Il progresse plus vite que nous tous », dit Julien Martin."
    )
    first, second = quotes_of(text, "fr")
    assert (first.speaker, first.speaker_category) == ("Zabihullah", "migrant")
    assert (second.speaker, second.speaker_category) == ("Julien Martin", "ngo")


def test_person_introduced_with_a_job_is_a_citizen() -> None:
    text = (
        "Ciarán Keogh, a graphic designer, found the negatives in an attic.\n"
        "'Nobody had looked at them in forty years,' said Keogh."
    )
    [q] = quotes_of(text, "en")
    assert (q.speaker, q.speaker_category) == ("Keogh", "citizen")


def test_demonym_in_the_speaker_phrase_is_a_migrant_cue() -> None:
    [q] = quotes_of("«Fui trocar a senha às cinco da manhã», diz Luana Ribeiro, brasileira.", "pt")
    assert (q.speaker, q.speaker_category) == ("Luana Ribeiro, brasileira", "migrant")


def test_all_quotes_of_a_person_share_the_profile() -> None:
    text = (
        "Youssef El Amrani, de 38 años, está detrás del mostrador.\n"
        "«Entré aquí de aprendiz con 21 años», recuerda Youssef, que llegó a Valencia desde "
        "Tánger.\n«Este es mi barrio y esta es mi gente», resume Youssef."
    )
    first, second = quotes_of(text, "es")
    assert first.speaker_category == second.speaker_category == "migrant"


@pytest.mark.parametrize(
    ("lang", "a", "b", "same"),
    [
        ("pl", "wiśniewski", "wiśniewskiego", True),
        ("pl", "oleną", "olena", True),
        ("pl", "nowak", "nowakowski", False),
        ("hr", "jurić", "jurića", True),
        ("hr", "ana", "ane", False),  # too short for a prefix match
        ("en", "smith", "smiths", False),
    ],
)
def test_inflected_names_match_by_prefix_only_in_pl_and_hr(
    lang: str, a: str, b: str, same: bool
) -> None:
    assert get_voice(lang)._same_word(a, b) is same


@pytest.mark.parametrize("lang", LANGS)
def test_profile_data(lang: str) -> None:
    voice = load_voice(lang)
    origin = voice.origin
    assert origin.phrases and origin.from_words and origin.arrival and origin.locatives
    assert 20 <= len(origin.places) <= 80, lang  # compact: common origins, not a gazetteer
    demonyms, jobs = voice.extra
    assert (demonyms.name, jobs.name) == ("migrant", "citizen")
    assert 15 <= len(demonyms.words) <= 60 and 25 <= len(jobs.words) + len(jobs.stems) <= 80
    assert all(len(stem) >= 4 for stem in jobs.stems), lang
    assert voice.inflected_names is (lang in ("pl", "hr"))


PIECES = [*"„“”»«\"'‘’", *"abc XYZ,.:;–-\n", "sagte ", "said ", "Mayor ", "ha detto ", "Olena "]
TEXTS = st.lists(st.sampled_from(PIECES), max_size=80).map("".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, lang=st.sampled_from((*LANGS, "nl")))
def test_random_text_never_breaks_offsets(text: str, lang: str) -> None:
    for q in quotes_of(text, lang):
        assert q.start < q.end and len(q.text) <= MAX_QUOTE_CHARS
