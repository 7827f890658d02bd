"""Strict readers that turn JSON-able dicts into typed values for program rules.

Program rules are stored as JSON and edited by marketers, so every reader
rejects what a typo would produce (unknown keys, floats where money is meant,
naive datetimes) with an ``InvalidProgramRules`` naming the exact path.
Values are written back by the ``*_to_json`` helpers in a canonical form so
that ``from_dict(to_dict(rules)) == rules`` holds exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import TypeVar

from wallet_service.loyalty.errors import InvalidProgramRules

__all__ = [
    "Fields",
    "check",
    "decimal_to_json",
    "nested",
    "optional_datetime_to_json",
    "read_datetime",
    "read_decimal",
    "read_enum",
    "read_int",
    "read_list",
    "read_object",
    "read_str",
]

EnumT = TypeVar("EnumT", bound=StrEnum)
T = TypeVar("T")

_ZERO = Decimal(0)
# ASCII digits only: Decimal() would also read an Arabic-Indic five as 5 and "1_0" as 10.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


@contextmanager
def nested(prefix: str) -> Iterator[None]:
    """Prefix the path of any ``InvalidProgramRules`` raised inside the block."""
    try:
        yield
    except InvalidProgramRules as error:
        raise error.under(prefix) from None


def check(condition: bool, path: str, problem: str) -> None:
    """Raise ``InvalidProgramRules(path, problem)`` unless ``condition`` holds."""
    if not condition:
        raise InvalidProgramRules(path, problem)


class Fields:
    """A JSON object being read: rejects unknown keys and reads typed fields by name.

    Every getter reports problems under the field's own path; a JSON ``null``
    counts as absent, so optional fields may be omitted or null.
    """

    def __init__(self, data: object, *, required: Sequence[str], optional: Sequence[str]) -> None:
        if not isinstance(data, Mapping):
            raise InvalidProgramRules("", "must be an object")
        unknown = sorted(str(key) for key in data if key not in (*required, *optional))
        if unknown:
            raise InvalidProgramRules(unknown[0], "unknown field")
        for key in required:
            if data.get(key) is None:
                raise InvalidProgramRules(key, "is required")
        self._data: Mapping[str, object] = data

    def has(self, key: str) -> bool:
        """Tell whether ``key`` is present with a non-null value."""
        return self._data.get(key) is not None

    def read(self, key: str, reader: Callable[[object, str], T]) -> T | None:
        """Read ``key`` with ``reader(value, path)``; ``None`` when absent."""
        value = self._data.get(key)
        if value is None:
            return None
        with nested(key):
            return reader(value, "")

    def optional_text(self, key: str, *, max_length: int = 200) -> str | None:
        """Read a non-blank string or ``None``."""
        return self.read(key, partial(read_str, max_length=max_length))

    def text(
        self, key: str, default: str = "", *, max_length: int = 200, allow_blank: bool = False
    ) -> str:
        """Read a string, non-blank unless ``allow_blank`` (for free-text descriptions)."""
        value = self.read(key, partial(read_str, max_length=max_length, allow_blank=allow_blank))
        return default if value is None else value

    def optional_integer(self, key: str, *, minimum: int | None = None) -> int | None:
        """Read an integer or ``None``."""
        return self.read(key, partial(read_int, minimum=minimum))

    def integer(self, key: str, default: int = 0, *, minimum: int | None = None) -> int:
        """Read an integer."""
        value = self.optional_integer(key, minimum=minimum)
        return default if value is None else value

    def optional_decimal(self, key: str) -> Decimal | None:
        """Read a decimal (string or integer) or ``None``."""
        return self.read(key, read_decimal)

    def decimal(self, key: str, default: Decimal = _ZERO) -> Decimal:
        """Read a decimal given as a string or an integer."""
        value = self.optional_decimal(key)
        return default if value is None else value

    def optional_datetime(self, key: str) -> datetime | None:
        """Read an aware ISO 8601 datetime or ``None``."""
        return self.read(key, read_datetime)

    def choice(self, key: str, enum_type: type[EnumT], default: EnumT | None = None) -> EnumT:
        """Read one of the values of ``enum_type``; without a default the field is required."""
        value = self.read(key, partial(_read_enum_value, enum_type=enum_type))
        if value is not None:
            return value
        if default is None:
            raise InvalidProgramRules(key, "is required")
        return default

    def texts(self, key: str, *, max_length: int = 200) -> tuple[str, ...]:
        """Read a list of non-blank strings (absent means empty)."""
        return self._items(key, partial(read_str, max_length=max_length))

    def objects(self, key: str, parser: Callable[[Mapping[str, object]], T]) -> tuple[T, ...]:
        """Parse each object of a list with ``parser`` (absent means empty)."""
        return self._items(key, lambda item, path: parser(read_object(item, path)))

    def section(self, key: str, parser: Callable[[Mapping[str, object]], T]) -> T | None:
        """Parse a nested object with ``parser`` or return ``None`` when absent."""
        return self.read(key, lambda item, path: parser(read_object(item, path)))

    def required_section(self, key: str, parser: Callable[[Mapping[str, object]], T]) -> T:
        """Parse a nested object that must be present."""
        parsed = self.section(key, parser)
        if parsed is None:
            raise InvalidProgramRules(key, "is required")
        return parsed

    def _items(self, key: str, reader: Callable[[object, str], T]) -> tuple[T, ...]:
        value = self._data.get(key)
        if value is None:
            return ()
        parsed: list[T] = []
        with nested(key):
            for index, item in enumerate(read_list(value, "")):
                with nested(f"[{index}]"):
                    parsed.append(reader(item, ""))
        return tuple(parsed)


def read_object(value: object, path: str) -> Mapping[str, object]:
    """Read a JSON object."""
    if not isinstance(value, Mapping):
        raise InvalidProgramRules(path, "must be an object")
    return value


def read_str(value: object, path: str, *, max_length: int = 200, allow_blank: bool = False) -> str:
    """Read a string of at most ``max_length`` characters, non-blank unless ``allow_blank``."""
    if not isinstance(value, str):
        raise InvalidProgramRules(path, "must be a string")
    check(allow_blank or bool(value.strip()), path, "must not be blank")
    check(len(value) <= max_length, path, f"must be at most {max_length} characters")
    return value


def read_int(value: object, path: str, *, minimum: int | None = None) -> int:
    """Read an integer (booleans and floats are refused) of at least ``minimum``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidProgramRules(path, "must be an integer")
    if minimum is not None:
        check(value >= minimum, path, f"must be at least {minimum}")
    return value


def read_decimal(value: object, path: str) -> Decimal:
    """Read a decimal from a string or an int; floats are refused to keep cents exact."""
    check(
        isinstance(value, str | int) and not isinstance(value, bool),
        path,
        'must be a decimal string such as "1.5" (or an integer)',
    )
    text = str(value).strip()
    check(bool(_DECIMAL_TEXT.fullmatch(text)), path, "is not a decimal number in ASCII digits")
    return Decimal(text)  # finite: the pattern lets no NaN or Infinity through


def read_datetime(value: object, path: str) -> datetime:
    """Read an ISO 8601 instant that carries its UTC offset."""
    if not isinstance(value, str):
        raise InvalidProgramRules(path, "must be an ISO 8601 datetime string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidProgramRules(path, "is not an ISO 8601 datetime") from None
    check(moment.utcoffset() is not None, path, "must include a UTC offset")
    return moment


def read_enum(value: object, enum_type: type[EnumT], path: str) -> EnumT:
    """Read one of the string values of ``enum_type``."""
    allowed = ", ".join(member.value for member in enum_type)
    if not isinstance(value, str):
        raise InvalidProgramRules(path, f"must be one of: {allowed}")
    try:
        return enum_type(value)
    except ValueError:
        raise InvalidProgramRules(path, f"must be one of: {allowed}") from None


def read_list(value: object, path: str) -> Sequence[object]:
    """Read a JSON array."""
    if not isinstance(value, list | tuple):
        raise InvalidProgramRules(path, "must be a list")
    return value


def _read_enum_value(value: object, path: str, *, enum_type: type[EnumT]) -> EnumT:
    return read_enum(value, enum_type, path)


def decimal_to_json(value: Decimal) -> str:
    """Write a decimal as the string it was read from (no float, no exponent drift)."""
    return str(value)


def optional_datetime_to_json(value: datetime | None) -> str | None:
    """Write an optional aware datetime as ISO 8601 or ``None``."""
    return None if value is None else value.isoformat()
