"""What a text message answer says: a word (in English, Dutch or French) and perhaps a
task's short code. Case, accents, spacing and punctuation do not matter ("Oui", "pas
possible 1234", "can't")."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Command(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    DONE = "done"
    GIVE_BACK = "give_back"
    STOP = "stop"
    START = "start"


WORDS = {
    "YES": Command.ACCEPT,
    "JA": Command.ACCEPT,
    "OUI": Command.ACCEPT,
    "NO": Command.DECLINE,
    "NEE": Command.DECLINE,
    "NON": Command.DECLINE,
    "DONE": Command.DONE,
    "KLAAR": Command.DONE,
    "FINI": Command.DONE,
    "CANT": Command.GIVE_BACK,
    "KANNIET": Command.GIVE_BACK,
    "PASPOSSIBLE": Command.GIVE_BACK,
    "STOP": Command.STOP,
    "START": Command.START,
}
# Short codes are 2 to 4 digits (notifications/channels/sms.py writes 4).
CODE = re.compile(r"\d{2,4}")


@dataclass(frozen=True)
class ParsedText:
    command: Command | None  # None: not understood
    code: str = ""


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(character for character in decomposed if not unicodedata.combining(character)).upper()


def parse(body: str) -> ParsedText:
    """The command and code in a text; `command` is None when it is anything else."""
    tokens = re.findall(r"[A-Z]+|\d+", _plain(body))
    words = [token for token in tokens if not token.isdigit()]
    numbers = [token for token in tokens if token.isdigit()]
    command = WORDS.get("".join(words))
    if command is None or len(numbers) > 1 or (numbers and not CODE.fullmatch(numbers[0])):
        return ParsedText(None)
    return ParsedText(command, numbers[0] if numbers else "")
