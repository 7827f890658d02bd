"""What a staff password must be (OWASP ASVS 2.1): long, not common, not blank.

No composition rules (ASVS asks for none): at least ``MIN_PASSWORD_LENGTH`` characters, any
Unicode allowed, spaces included. Refused: passwords made only of whitespace or NUL, or of
fewer than ``MIN_DISTINCT_CHARACTERS`` different characters (``aaaaaaaaaaaa``), and those on
the shipped list of 20,000 common passwords, with or without digits and symbols tacked on the
end (``password1234!``).

``common-passwords.txt.gz`` is Royce Williams's list of the most common passwords from
breach corpora (https://gist.github.com/roycewilliams/226886fd01572964e1431ac8afc999ce),
as shipped by Django (BSD licence).
"""

from __future__ import annotations

import gzip
import unicodedata
from functools import cache
from pathlib import Path

__all__ = ["MAX_PASSWORD_LENGTH", "MIN_PASSWORD_LENGTH", "password_problem"]

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
MIN_DISTINCT_CHARACTERS = 4
_COMMON_PASSWORDS = Path(__file__).with_name("common-passwords.txt.gz")
_TRAILING_NOISE = "0123456789!@#$%^&*()-_=+.?,;:~ "


@cache
def _common_passwords() -> frozenset[str]:
    with gzip.open(_COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def password_problem(password: str) -> str | None:
    """Why ``password`` is refused, in words for the person choosing it; None if it is fine."""
    if "\x00" in password:
        return "The password cannot contain NUL characters."
    if not password.strip():
        return "The password cannot be blank."
    # Counted as a person sees them: a combining accent does not make a password longer.
    length = len(unicodedata.normalize("NFC", password))
    if length < MIN_PASSWORD_LENGTH:
        return f"The password needs at least {MIN_PASSWORD_LENGTH} characters."
    if length > MAX_PASSWORD_LENGTH:
        return f"The password can have at most {MAX_PASSWORD_LENGTH} characters."
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        return "The password repeats too few different characters."
    lowered = password.lower()
    common = _common_passwords()
    if lowered in common or lowered.rstrip(_TRAILING_NOISE) in common:
        return "The password is too common: it appears in lists of breached passwords."
    return None
