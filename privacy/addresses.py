"""Finding street addresses: a house number, a street name and a street type, in the
orders English, French/Spanish/Italian/Portuguese and German/Dutch/Nordic write them.

A street needs all three parts: "12 Baker Street", "12 rue de Rivoli", "Via Roma 15",
"Hauptstraße 5". The name must be capitalised, which keeps "I walked 5 miles down the road"
and "3 via Amazon" ordinary text; "room 101" and "I ran 12 km" have no street type at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Span = tuple[int, int]

_NUM = r"[0-9]{1,5}[A-Za-z]?(?:[-/][0-9]{1,5}[A-Za-z]?)?"
_NUM_AFTER = r"(?:n[º°o.]?\s*)?[0-9]{1,4}[A-Za-z]?(?:[-/][0-9]{1,4}[A-Za-z]?)?(?![\w.,][0-9])"
_WORD = r"(?:[A-Z][\w'’.-]*|[0-9]{1,3}(?:st|nd|rd|th))"  # "Baker", "O'Connell", "5th"

_EN_TYPES = (  # a full word keeps a following period: it ends the sentence
    "Street|Avenue|Road|Boulevard|Lane|Drive|Court|Place|Terrace|Way|Close|Crescent|Square|"
    "Parkway|Highway|Circle|Gardens|Grove|Row|Mews|Walk|Trail|Loop|Alley|Embankment|"
    "Esplanade|Broadway|(?i:street|road|avenue|boulevard|lane)")
_EN_ABBREVIATIONS = "St|Ave|Rd|Blvd|Ln|Dr|Ct|Pl|Ter|Cres|Sq|Pkwy|Hwy|Cir"
_UNIT = r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl)\.?\s*#?[0-9]{1,4}[A-Za-z]?)?"
_DIRECTION = r"(?:\s+(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\b)?"
_ENGLISH = re.compile(
    rf"(?<![\w.,/-]){_NUM},?\s+(?!(?:The|A|An|In|On|At|Of)\s)(?:{_WORD}\s+){{1,4}}"
    rf"(?:(?:{_EN_TYPES})\b|(?:{_EN_ABBREVIATIONS})\b\.?){_DIRECTION}{_UNIT}")

_PARTICLES = r"(?:(?:de|del|della|delle|di|da|do|dos|das|la|le|les|du|des|d'|l')\s*)*"
_ROMANCE_TYPES = (  # written before the name: "rue de Rivoli", "Calle Mayor"
    "rue|avenue|av\\.|boulevard|bd|chemin|all[ée]e|impasse|quai|calle|avenida|carrer|rua|"
    "travessa|Via|Viale|Piazza|Corso|Place|Plaza|Paseo|Largo|Route|Vicolo")
_ROMANCE_NAME = rf"{_PARTICLES}[A-Z][\w'’-]*(?:\s+{_PARTICLES}[A-Z][\w'’-]*){{0,3}}"
_ROMANCE_NUMBER_FIRST = re.compile(  # 12 rue de Rivoli
    rf"(?<![\w.,/-]){_NUM},?\s+(?:{_ROMANCE_TYPES})\s+{_ROMANCE_NAME}")
_ROMANCE_NUMBER_LAST = re.compile(  # Via Roma 15, Calle de Alcalá, 42
    rf"(?<![\w])(?:Rue|Avenue|Boulevard|Calle|Avenida|Carrer|Rua|Travessa|Via|Viale|Piazza|"
    rf"Corso|Plaza|Paseo|Largo|Vicolo)\s+{_ROMANCE_NAME},?\s+{_NUM_AFTER}")

_COMPOUND = (  # one word with the type at its end: Hauptstraße, Kerkstraat, Drottninggatan
    "straße|strasse|str\\.|weg|gasse|allee|platz|damm|ufer|chaussee|pfad|steig|straat|laan|"
    "gracht|plein|kade|singel|dijk|vej|gatan|vägen|veien")  # not -gade: "Renegade 2"
_GERMANIC = re.compile(
    rf"(?<![\w])[A-ZÄÖÜÅØÆ][\w-]*?(?:{_COMPOUND})"
    rf"\s+{_NUM_AFTER}")
_GERMANIC_WORDS = re.compile(  # Berliner Straße 12, Am Alten Weg 3
    rf"(?<![\w])(?:[A-ZÄÖÜ][\w-]*\s+){{1,3}}(?:Straße|Strasse|Str\.|Weg|Allee|Platz|Gasse|"
    rf"Straat|Laan)\s+{_NUM_AFTER}")
# Lower case, as a transcript writes it: "12 baker street", "4 privet drive". Only full street
# words, and a name of one to three words none of which is a common word, so "5 miles down
# the road" and "2 dogs on our street" stay.
_LOWER = re.compile(
    rf"(?<![\w.,/-]){_NUM},?\s+((?:[a-z][a-z'’-]*\s+){{1,3}})(?:street|road|avenue|lane|"
    rf"drive|close|crescent|terrace|way|court|place|boulevard|square|gardens|grove|row|"
    rf"mews|walk|parkway|highway)(?![\w-])")
_COMMON = frozenset(re.split(r"\s+", """
    a an the of on in at to for from by with down up along across over past near into onto
    this that these those our my your his her their its same other next whole another each
    every and or but is was are were be been we i you they it he she me us them what which
    miles mile km kilometres blocks block minutes minute hours hour days day weeks week
    times time more most less people houses cars dogs cats kids years old new big small
    long short few many lots all some any one two three four five six seven eight nine ten
    way ways doors steps floors stops rounds laps goals points star stars bedroom bed storey
    story seater door person player hole lane track hour
    """.strip()))
_PO_BOX = re.compile(r"\bP\.?\s?O\.?\s?Box\s+[0-9]+\b", re.I)


# "In 2008 Wall Street crashed", "since 2019 Google Drive": a year, not a house number.
_YEAR_FIRST = re.compile(r"(?:19|20)[0-9]{2}\b")
_YEAR_CUE = re.compile(r"\b(?:in|since|by|from|until|till|before|after|of|during|around|"
                       r"circa|year|summer|winter|spring|autumn|fall)\s*$", re.I)


def find_addresses(text: str) -> Iterator[Span]:
    """Spans of street addresses (and PO boxes) in ``text``."""
    for pattern in (_ENGLISH, _ROMANCE_NUMBER_FIRST):
        for m in pattern.finditer(text):
            if not (_YEAR_FIRST.match(m.group())
                    and _YEAR_CUE.search(text[max(0, m.start() - 12):m.start()])):
                yield m.span()
    for pattern in (_ROMANCE_NUMBER_LAST, _GERMANIC, _GERMANIC_WORDS, _PO_BOX):
        for m in pattern.finditer(text):
            yield m.span()
    for m in _LOWER.finditer(text):
        if not _COMMON.intersection(m.group(1).split()):
            yield m.span()
