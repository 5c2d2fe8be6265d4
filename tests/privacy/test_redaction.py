"""Redaction: every kind of identifier is caught, ordinary text is left alone, and the
report holds counts, never values. Pure text functions: nothing to mock."""

from __future__ import annotations

import json

import pytest

from persona.core.errors import SettingsError, TextError
from persona.core.settings import Settings, load_settings
from persona.privacy.identifiers import iban_valid, luhn_valid
from persona.privacy.redaction import KINDS, RedactionReport, Redactor, redact

CAUGHT = {
    "email": [
        ("Mail me at anna.schmidt+news@example.co.uk.", "Mail me at [EMAIL]."),
        ("bob_99@mail.example.org wrote", "[EMAIL] wrote"),
        ("Kontakt: jürgen.müller@beispiel.de", "Kontakt: [EMAIL]"),
        ("write to anna [at] example [dot] com please", "write to [EMAIL] please"),
        ("my email is anna dot schmidt at gmail dot com", "my email is [EMAIL]"),
    ],
    "phone": [
        ("Call +44 20 7946 0958 today", "Call [PHONE] today"),
        ("US office +1-202-555-0143.", "US office [PHONE]."),
        ("London +44 (0)20 7946 0958", "London [PHONE]"),
        ("Berlin +49 30 1234567 or 030/1234567", "Berlin [PHONE] or [PHONE]"),
        ("My number is (555) 123-4567.", "My number is [PHONE]."),
        ("office 555.123.4567, toll free 1-800-555-0199", "office [PHONE], toll free [PHONE]"),
        ("Ring 020 7946 0958 or 0170-1234567", "Ring [PHONE] or [PHONE]"),
        ("Paris: 01 23 45 67 89", "Paris: [PHONE]"),
        ("international 0044 20 7946 0958", "international [PHONE]"),
        ("call me on 555 1234 or text 07700900123", "call me on [PHONE] or text [PHONE]"),
        ("My phone is 555-1234.", "My phone is [PHONE]."),
    ],
    "card": [
        ("Visa 4111 1111 1111 1111 expires", "Visa [CARD] expires"),
        ("mc 5555-5555-5555-4444", "mc [CARD]"),
        ("amex 3782 822463 10005", "amex [CARD]"),
        ("paid with 4012888888881881.", "paid with [CARD]."),
        ("Discover 6011 1111 1111 1117", "Discover [CARD]"),
    ],
    "account": [
        ("IBAN DE89 3704 0044 0532 0130 00 is mine", "IBAN [ACCOUNT] is mine"),
        ("send to GB82WEST12345698765432 now", "send to [ACCOUNT] now"),
        ("FR14 2004 1010 0505 0001 3M02 606.", "[ACCOUNT]."),
        ("NL91ABNA0417164300", "[ACCOUNT]"),
        ("My account number is 12345678", "My account number is [ACCOUNT]"),
        ("sort code 12-34-56", "sort code [ACCOUNT]"),
        ("reference 98765432101 please", "reference [ACCOUNT] please"),
        ("Number 1234 5678 9012 3456 (not a card)", "Number [ACCOUNT] (not a card)"),
    ],
    "id": [
        ("SSN 123-45-6789", "SSN [ID]"),
        ("NI number AB 12 34 56 C.", "NI number [ID]."),
    ],
    "address": [
        ("I live at 221B Baker Street, London", "I live at [ADDRESS], London"),
        ("1600 Pennsylvania Avenue NW, Apt 4.", "[ADDRESS]."),
        ("Post to 10 Downing St. today", "Post to [ADDRESS] today"),
        ("meet at 350 Fifth Ave or 42 5th Avenue", "meet at [ADDRESS] or [ADDRESS]"),
        ("12 Main St, Springfield", "[ADDRESS], Springfield"),
        ("we moved to 742 Evergreen Terrace", "we moved to [ADDRESS]"),
        ("I live at 12 Harley Street. It is loud.", "I live at [ADDRESS]. It is loud."),
        ("Je vis au 12 rue de Rivoli.", "Je vis au [ADDRESS]."),
        ("Via Roma 15, Milano", "[ADDRESS], Milano"),
        ("Calle de Alcalá, 42", "[ADDRESS]"),
        ("Hauptstraße 5 in Berlin", "[ADDRESS] in Berlin"),
        ("Berliner Straße 12", "[ADDRESS]"),
        ("Kerkstraat 12, Amsterdam", "[ADDRESS], Amsterdam"),
        ("P.O. Box 1234", "[ADDRESS]"),
    ],
}


@pytest.mark.parametrize(("kind", "text", "expected"),
                         [(k, t, e) for k, cases in CAUGHT.items() for t, e in cases])
def test_each_kind_is_caught(kind, text, expected):
    result = redact(text)
    assert result.text == expected
    assert result.report.counts[kind] == expected.count(f"[{kind.upper()}]")
    assert result.report.total == result.report.counts[kind]


ORDINARY = [
    "The meeting is on 2024-03-14 at 10:30.",
    "Dates: 14.03.2024, 03/14/2024, 2024/03/14, 25 Dec 2024 and 01.02.2024 10.30.",
    "Meet at 7:45pm, between 9 and 5, on 12/25.",
    "It cost $1,299.99, or € 1.250,00, or £12.50.",
    "The population is 1 234 567 and growing; a billion is 1,000,000,000.",
    "pi is 3.14159265358979 and e is 2.718281828459045",
    "From 1990-1999 I lived abroad; in 2020 The Road came out.",
    "Years 2020 2021 2022 2023 were busy.",
    "version 3.11.4, build 10.0.19045, Python 3.12, v2.0.1",
    "The router is at 192.168.1.1.",
    "I ran 12 km in 58 minutes.",
    "She is in room 101 on the 3rd floor.",
    "Read page 42 of chapter 3.",
    "I had 2 Dr visits this week.",
    "I walked 5 miles down the road.",
    "The 3 Musketeers walk into 2 bars.",
    "I bought 3 via Amazon.",
    "We looked at amazon dot com yesterday.",
    "Spring 2024 was wet; Renegade 2 is a game.",
    "A Boeing 747 and COVID-19 and an iPhone 15.",
    "The score was 3-2 and the TV is 4K at 1080p.",
    "Use A4 paper and a 2x4 board.",
    "It was -5°C at 48.8566, 2.3522.",
    "The compact date 20240314 is a date.",
    "In 2008 Wall Street crashed; since 2019 Google Drive; in 1969, Abbey Road came out.",
    "call me at 5, text me 2 or 3 times.",
    "My number one priority since 2019 is sleep.",
    "The phone bill was 125.50 this month.",
    "customer since 2019, account for 10 percent, member of 3 clubs",
    "ISBN 9783161484100 is the book.",
    "I lifted 100 kg, slept 8 hours and drank 2.5 l of water.",
    "Flight BA 2490 leaves from gate 12 at 06:45.",
    "He scored 10,000 points on level 99.",
    "Annabelle and Anna-Lena are not on the list.",
    "Route 66 and Highway 1 are famous.",
    "pmem(text=2310144, lib=0)",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_left_intact(text):
    result = redact(text, names=["Anna"])
    assert result.text == text
    assert result.report.total == 0
    assert result.report.texts_changed == 0


NAMES = ["Anna", "Anna Schmidt", "Zoë", "O'Brien", "Jean-Luc"]


@pytest.mark.parametrize(("text", "expected"), [
    ("Anna's cat sat.", "[NAME]'s cat sat."),
    ("I told ANNA and anna.", "I told [NAME] and [NAME]."),
    ("Anna Schmidt came.", "[NAME] came."),  # the longest listed name wins
    ("Anna\n Schmidt came.", "[NAME] came."),
    ("Zoe met zoë and ZOË.", "[NAME] met [NAME] and [NAME]."),
    ("Dear O'Brien, and O’Brien’s dog", "Dear [NAME], and [NAME]’s dog"),
    ("jean-luc and Jean-Luc's book", "[NAME] and [NAME]'s book"),
    ("The Jameses' house", "The Jameses' house"),
    ("Annabelle, Hanna and Anna-Lena stay.", "Annabelle, Hanna and Anna-Lena stay."),
    ("Chris' bike", "Chris' bike"),
])
def test_listed_names_whole_words_any_case_and_possessives(text, expected):
    result = redact(text, names=NAMES)
    assert result.text == expected
    assert result.report.counts["name"] == expected.count("[NAME]")


def test_lower_case_streets_are_addresses_but_walks_are_not():
    # Issue 8: transcripts often write street names in lower case.
    assert redact("at 12 baker street").text == "at [ADDRESS]"
    assert redact("at 12 Baker street").text == "at [ADDRESS]"
    assert redact("I walked 5 miles down the road").text == "I walked 5 miles down the road"
    assert redact("2 dogs on our street").text == "2 dogs on our street"


def test_a_zip_plus_4_is_a_postcode():
    assert redact("The ZIP is 90210-1234.").text == "The ZIP is [POSTCODE]."


def test_names_only_when_listed():
    assert redact("Anna called.").text == "Anna called."
    assert redact("Chris' bike", names=["Chris"]).text == "[NAME]' bike"


def test_bad_names_are_refused_with_the_fix():
    with pytest.raises(SettingsError, match="'A'.*two letters"):
        Redactor(["Anna", "A"])
    with pytest.raises(SettingsError, match="names"):
        Redactor([42])
    assert redact("x", names=["", "  "]).text == "x"  # blank entries are ignored


def test_settings_hold_the_names(tmp_path):
    assert Settings().redact_names == []
    s = Settings(redact_names="Anna,  Bob   Smith, anna, ")
    assert s.redact_names == ["Anna", "Bob Smith"]
    path = tmp_path / "settings.yaml"
    path.write_text("redact_names: [Anna, B]\n")
    with pytest.raises(SettingsError, match="'B'"):
        load_settings(path)


def test_a_realistic_note():
    note = ("Anna's new place is 14 Oak Road (moved on 2024-03-01). Her mobile is "
            "+44 7700 900123, e-mail anna.s@example.com; rent of £1,200 goes to "
            "GB82 WEST 1234 5698 7654 32 on the 1st. I paid the deposit with "
            "4111-1111-1111-1111 and ran 5 km after.")
    result = redact(note, names=["Anna"])
    assert result.text == (
        "[NAME]'s new place is [ADDRESS] (moved on 2024-03-01). Her mobile is [PHONE], "
        "e-mail [EMAIL]; rent of £1,200 goes to [ACCOUNT] on the 1st. I paid the deposit "
        "with [CARD] and ran 5 km after.")
    assert result.report.counts == {"email": 1, "phone": 1, "card": 1, "account": 1, "id": 0,
                                    "address": 1, "name": 1, "postcode": 0, "birthdate": 0,
                                    "pin": 0}


def test_report_has_counts_never_values():
    secrets = ["anna.schmidt@example.com", "+44 20 7946 0958", "4111 1111 1111 1111",
               "DE89 3704 0044 0532 0130 00", "221B Baker Street", "Anna"]
    text = " and ".join(secrets)
    result = redact(text, names=["Anna"])
    dumped = json.dumps(result.report.to_dict()) + repr(result.report) + result.report.summary()
    for secret in secrets:
        assert secret not in result.text
        for piece in secret.split():
            if len(piece) > 3:
                assert piece not in dumped
    data = result.report.to_dict()
    assert set(data) == {"texts", "texts_changed", "total", "counts"}
    assert set(data["counts"]) == set(KINDS)
    assert all(isinstance(v, int) for v in data["counts"].values())
    assert data["total"] == 6


def test_reports_add_up_and_round_trip():
    r = Redactor(["Anna"])
    texts = ["Anna at anna@example.com", "nothing here", "call +44 20 7946 0958, Anna"]
    out, total = r.redact_many(texts)
    assert out == ["[NAME] at [EMAIL]", "nothing here", "call [PHONE], [NAME]"]
    assert total.texts == 3 and total.texts_changed == 2
    assert total.counts["name"] == 2 and total.counts["email"] == 1
    assert total.counts["phone"] == 1 and total.total == 4
    summed = sum((r.redact(t).report for t in texts), RedactionReport())
    assert summed == total
    assert RedactionReport.from_dict(json.loads(json.dumps(total.to_dict()))) == total
    assert total.summary() == "4 redacted in 2 of 3 texts (email 1, phone 1, name 2)"


def test_deterministic_and_idempotent():
    text = ("Anna (anna@x.io, +1 (555) 123-4567) lives at 12 Main St; card 5555 5555 5555 "
            "4444, account number 12345678.")
    first = redact(text, names=["Anna"])
    assert redact(text, names=["Anna"]) == first
    again = redact(first.text, names=["Anna"])
    assert again.text == first.text
    assert again.report.total == 0  # placeholders are not counted twice


def test_checksums():
    assert luhn_valid("4111 1111 1111 1111") and not luhn_valid("4111 1111 1111 1112")
    assert iban_valid("DE89 3704 0044 0532 0130 00")
    assert not iban_valid("DE89 3704 0044 0532 0130 01")  # wrong check digits
    assert not iban_valid("DE89 3704 0044 0532 0130 0")  # wrong length for Germany
    # A card-shaped number that fails Luhn is not a card (it is still a long number).
    assert redact("4111 1111 1111 1112").text == "[ACCOUNT]"


def test_not_text_is_refused():
    with pytest.raises(TextError, match="Only text"):
        redact(b"anna@example.com")  # type: ignore[arg-type]
    assert redact("").text == ""
