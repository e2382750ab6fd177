"""The Dutch and French catalogues: complete, consistent with the code, compiled, and in use.

The .po files are read with a small parser below (no extra dependency). Checking that the
catalogues cover the code runs Django's makemessages, which needs GNU gettext (xgettext,
msguniq, msgmerge): without it that test fails and says so, it is never skipped.
"""

from __future__ import annotations

import gettext
import html
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.commands import makemessages
from django.urls import reverse
from django.utils import translation

from tests.conftest import sign_in

BASE_DIR = Path(settings.BASE_DIR)
LOCALE_DIR = BASE_DIR / "locale"
LANGUAGES = ["nl", "fr"]
# The same folders the documented `manage.py makemessages` command leaves out.
IGNORED = [".venv", "node_modules", "bench", "tests"]

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)

    @property
    def label(self) -> str:
        context = f"[{self.msgctxt}] " if self.msgctxt else ""
        return f"line {self.line}: {context}{self.msgid!r}"


def unquote(text: str, path: Path, number: int) -> str:
    if not (len(text) >= 2 and text[0] == '"' and text[-1] == '"'):
        raise ValueError(f"{path}:{number}: expected a quoted string, got {text!r}")
    text, out, i = text[1:-1], [], 0
    while i < len(text):
        if text[i] == "\\":
            out.append(ESCAPES[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_po(path: Path) -> list[Entry]:
    """Every entry of a .po file, the header (msgid "") first; obsolete (#~) entries left out."""
    entries: list[Entry] = []
    entry, target = Entry(), None

    def finish() -> None:
        nonlocal entry, target
        if target is not None:
            entries.append(entry)
        entry, target = Entry(), None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
        elif line.startswith("#~"):
            continue
        elif line.startswith("#"):
            if target is not None:
                finish()
            if line.startswith("#,"):
                entry.flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith('"'):
            if target is None:
                raise ValueError(f"{path}:{number}: a string outside any entry")
            kind, index = target
            if kind == "msgstr":
                entry.msgstr[index] += unquote(line, path, number)
            else:
                setattr(entry, kind, getattr(entry, kind) + unquote(line, path, number))
        else:
            match = re.fullmatch(r"(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+(\".*\")", line)
            if not match:
                raise ValueError(f"{path}:{number}: cannot read {raw!r}")
            kind, index, text = match.group(1), match.group(2), unquote(match.group(3), path, number)
            if kind in ("msgctxt", "msgid") and target is not None and target[0] != "msgctxt":
                finish()
            if target is None:
                entry.line = number
            if kind == "msgstr":
                entry.msgstr[int(index or 0)] = text
                target = ("msgstr", int(index or 0))
            else:
                setattr(entry, kind, text)
                target = (kind, 0)
    finish()
    return entries


NAMED = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
POSITIONAL = re.compile(r"%(?!\()[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
BRACED = re.compile(r"(?<!\{)\{(\w*)\}(?!\})")


def placeholders(text: str) -> tuple[frozenset[str], tuple[str, ...], frozenset[str]]:
    """Named %(x)s, positional %s (in order, counted) and {x} placeholders of a string."""
    text = text.replace("%%", "")
    return (
        frozenset(NAMED.findall(text)),
        tuple(sorted(Counter(POSITIONAL.findall(text)).elements())),
        frozenset(BRACED.findall(text)),
    )


def header_of(entries: list[Entry]) -> dict[str, str]:
    header = entries[0]
    assert header.msgid == "" and header.msgctxt is None, "the catalogue must start with its header"
    return dict(line.split(":", 1) for line in header.msgstr[0].splitlines() if ":" in line)


def nplurals(entries: list[Entry]) -> int:
    match = re.search(r"nplurals\s*=\s*(\d+)", header_of(entries).get("Plural-Forms", ""))
    assert match, "the header has no Plural-Forms"
    return int(match.group(1))


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "django.po"


def catalogue(language: str) -> list[Entry]:
    path = po_path(language)
    assert path.exists(), f"{path} is missing: run manage.py makemessages -l {language}"
    return parse_po(path)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_entry_is_translated_and_none_is_fuzzy(language):
    entries = catalogue(language)
    header = header_of(entries)
    assert header.get("Language", "").strip() == language
    forms = nplurals(entries)
    problems = []
    for entry in entries:
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {entry.label}")
        if entry.msgid == "":
            continue
        expected = range(forms) if entry.msgid_plural is not None else range(1)
        if sorted(entry.msgstr) != list(expected):
            problems.append(
                f"has msgstr forms {sorted(entry.msgstr)}, expected {list(expected)}: {entry.label}"
            )
        problems.extend(f"empty msgstr[{i}]: {entry.label}" for i, text in entry.msgstr.items() if not text)
    keys = [entry.key for entry in entries]
    problems.extend(f"duplicate entry: {key}" for key, count in Counter(keys).items() if count > 1)
    assert not problems, f"{po_path(language)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders(language):
    problems = []
    for entry in catalogue(language)[1:]:
        if entry.msgid_plural is None:
            if placeholders(entry.msgstr.get(0, "")) != placeholders(entry.msgid):
                problems.append(f"placeholders differ: {entry.label} -> {entry.msgstr.get(0)!r}")
        else:
            singular, plural = placeholders(entry.msgid), placeholders(entry.msgid_plural)
            for index, text in entry.msgstr.items():
                named, positional, braced = placeholders(text)
                # A form may leave out the count ("once" for 1) but not the other placeholders.
                if not (singular[0] & plural[0]) <= named <= (singular[0] | plural[0]):
                    problems.append(f"msgstr[{index}] placeholders differ: {entry.label} -> {text!r}")
                if positional not in (singular[1], plural[1]) or not braced <= (singular[2] | plural[2]):
                    problems.append(f"msgstr[{index}] placeholders differ: {entry.label} -> {text!r}")
        if "python-format" in entry.flags:
            for index, text in entry.msgstr.items():
                names = placeholders(text)[0]
                try:
                    text % dict.fromkeys(names, 1) if names else text % ()
                except (TypeError, ValueError, KeyError) as error:
                    problems.append(f"msgstr[{index}] is not a valid format ({error}): {entry.label}")
    assert not problems, f"{po_path(language)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_matches_the_po_file(language):
    mo = po_path(language).with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run manage.py compilemessages --ignore=.venv"
    with mo.open("rb") as handle:
        compiled = dict(gettext.GNUTranslations(handle)._catalog)
    expected = {}
    for entry in catalogue(language)[1:]:
        msgid = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            expected[msgid] = entry.msgstr[0]
        else:
            expected.update(((msgid, index), text) for index, text in entry.msgstr.items())
    # msgfmt leaves POT-Creation-Date out of the compiled header: compare the rest.
    header = {k: v.strip() for k, v in header_of(catalogue(language)).items() if k != "POT-Creation-Date"}
    compiled_header = compiled.pop("", "")
    compiled_fields = {
        k: v.strip() for k, v in (line.split(":", 1) for line in compiled_header.splitlines() if ":" in line)
    }
    assert compiled_fields == header, f"{mo} has another header than its .po file: run compilemessages"
    stale = sorted(str(key) for key in expected.keys() - compiled.keys())
    extra = sorted(str(key) for key in compiled.keys() - expected.keys())
    changed = sorted(str(key) for key in expected.keys() & compiled.keys() if expected[key] != compiled[key])
    assert not (stale or extra or changed), (
        f"{mo} is out of date with its .po file; run manage.py compilemessages --ignore=.venv\n"
        f"missing: {stale[:10]}\nnot in the .po: {extra[:10]}\ndifferent: {changed[:10]}"
    )


class ExtractOnly(makemessages.Command):
    """makemessages that keeps the extracted template instead of merging it into a .po file."""

    def write_po_file(self, potfile, locale):
        self.extracted = getattr(self, "extracted", [])
        self.extracted.append(Path(potfile).read_text(encoding="utf-8"))


def test_the_catalogues_cover_every_string_in_the_code(monkeypatch, tmp_path):
    missing_tools = [tool for tool in ("xgettext", "msguniq", "msgmerge") if shutil.which(tool) is None]
    if missing_tools:
        pytest.fail(
            f"GNU gettext is needed to check the catalogues against the code ({', '.join(missing_tools)} "
            "not found): install it, e.g. apt-get install gettext"
        )
    monkeypatch.chdir(BASE_DIR)
    command = ExtractOnly()
    # The temporary .pot file lives in locale/ for a moment; no .po file is written.
    call_command(command, locale=["nl"], ignore_patterns=IGNORED, verbosity=0)
    assert getattr(command, "extracted", None), "makemessages extracted nothing"
    pot = tmp_path / "django.pot"
    pot.write_text("\n\n".join(command.extracted), encoding="utf-8")
    in_code = {entry.key: entry for entry in parse_po(pot) if entry.msgid}
    assert len(in_code) > 100, f"only {len(in_code)} strings extracted: is the extraction broken?"
    for language in LANGUAGES:
        translated = {entry.key: entry for entry in catalogue(language)}
        missing = sorted(key for key in in_code if key not in translated)
        assert not missing, (
            f"{len(missing)} strings in the code are not in locale/{language}: run "
            "manage.py makemessages -l nl -l fr --ignore=.venv --ignore=node_modules --ignore=bench "
            f"--ignore=tests, translate, then compilemessages. First ones: {missing[:10]}"
        )
        plural_changed = [
            key for key, entry in in_code.items() if translated[key].msgid_plural != entry.msgid_plural
        ]
        assert not plural_changed, f"plural forms changed in the code: {plural_changed[:10]}"


def page_text(response) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(response.content.decode())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "home", "login"),
    [
        ("nl", "Buren helpen buren", "Aanmelden"),
        ("fr", "Entre voisins, on s'entraide", "Se connecter"),
    ],
)
def test_pages_speak_the_language_the_browser_asks_for(client, language, home, login):
    text = page_text(client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE=f"{language}-BE,{language};q=0.9"))
    assert f'<html lang="{language}">' in text
    assert home in text and "Neighbours helping neighbours" not in text
    text = page_text(client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE=language))
    assert f"<h1>{login}</h1>" in text


@pytest.mark.django_db
def test_the_language_cookie_wins_over_the_browser(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    text = page_text(client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="nl"))
    assert '<html lang="fr">' in text and "<h1>Se connecter</h1>" in text
    assert "Pas encore de compte" in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "messages"),
    [
        (
            "nl",
            ["Kijk de aangeduide velden hieronder na.", "Vul uw adres in of duid de plaats aan op de kaart."],
        ),
        (
            "fr",
            [
                "Vérifiez les champs signalés ci-dessous.",
                "Indiquez votre adresse ou choisissez l'endroit sur la carte.",
            ],
        ),
    ],
)
def test_form_errors_are_in_the_chosen_language(client, citizen, shopping, language, messages):
    sign_in(client, citizen)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.post(
        reverse("request-create"), {"category": shopping.pk, "description": "Brood", "any_time": "on"}
    )
    text = page_text(response)
    for message in messages:
        assert message in text
    assert "Give your address or pick the place on the map." not in text


@pytest.mark.parametrize(
    ("language", "one", "two"),
    [
        ("nl", "1 persoon om terug te bellen", "2 personen om terug te bellen"),
        ("fr", "1 personne à rappeler", "2 personnes à rappeler"),
    ],
)
def test_plural_forms_come_from_the_compiled_catalogue(language, one, two):
    with translation.override(language):
        for count, expected in ((1, one), (2, two)):
            text = translation.ngettext("%(n)s person to call back", "%(n)s people to call back", count)
            assert text % {"n": count} == expected


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "slot"), [("nl", "Maandag Voormiddag"), ("fr", "Lundi Matin")])
def test_the_weekly_grid_of_the_offer_form_is_translated(client, volunteer, language, slot):
    """The grid's labels (read by screen readers) are built per request, not once in English."""
    sign_in(client, volunteer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    text = page_text(client.get(reverse("offer-edit")))
    assert f'<span class="visually-hidden">{slot}</span>' in text
    assert "Monday Morning" not in text


def test_category_names_follow_the_readers_language(db):
    from django.utils import translation

    from mutualaid.aid.models import Category, Community

    community = Community.objects.create(name="Leuven", slug="leuven", latitude=50.88, longitude=4.70)
    shopping = Category.objects.create(
        community=community, slug="shopping", name="Shopping", name_nl="Boodschappen", name_fr="Courses"
    )
    untranslated = Category.objects.create(community=community, slug="x", name="Gardening")
    for language, expected in [("nl", "Boodschappen"), ("fr", "Courses"), ("en", "Shopping")]:
        with translation.override(language):
            assert str(shopping) == expected
            assert str(untranslated) == "Gardening"  # the English name until a coordinator adds one
