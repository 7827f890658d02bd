"""Serialize ``pass.json`` with the template's constant JSON encoded once.

Building a dictionary per pass and handing it to :func:`json.dumps` spends
most of its time re-encoding what never changes: identifiers, colours, field
keys, labels, number styles. :func:`compile_pass_json` encodes all of that once
per (template, pass type, team, web service) and keeps, for each field, the
JSON text before each member-dependent value; :meth:`PassJsonWriter.write` then
only escapes the member's values (with the C string encoder) and joins strings.

Only keys Apple defines for ``pass.json`` are written; see
:mod:`wallet_service.apple.pkpass` for the list. The output is compact UTF-8
JSON; ``json.loads`` of it is what :func:`~wallet_service.apple.pkpass.build_pass_json`
returns, so there is a single source of truth for the document.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any

from wallet_service.passes.model import CardState, PassLocation
from wallet_service.passes.templates import FIELD_GROUPS, FieldTemplate, PassTemplate, TemplateText

__all__ = [
    "BARCODE_MESSAGE_ENCODING",
    "MAX_LOCATIONS",
    "MIN_AUTHENTICATION_TOKEN_LENGTH",
    "PassJsonWriter",
    "compile_pass_json",
]

#: Wallet reads at most ten locations; the card lists the most relevant first.
MAX_LOCATIONS = 10
#: Apple requires the web-service token to be at least this long.
MIN_AUTHENTICATION_TOKEN_LENGTH = 16
#: What scanners decode; barcode messages must therefore be Latin-1 text.
BARCODE_MESSAGE_ENCODING = "iso-8859-1"


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _encode_float(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError("pass.json cannot carry NaN or infinite numbers")
    return float.__repr__(value)


# Exact-type dispatch: one dictionary lookup instead of a chain of isinstance calls.
_ENCODERS: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,
    int: int.__repr__,
    float: _encode_float,
    bool: lambda value: "true" if value else "false",
}


def _encode(value: object) -> str:
    """Encode one rendered value; the common types skip the generic encoder."""
    encoder = _ENCODERS.get(type(value))
    return encoder(value) if encoder is not None else _json(value)


@dataclass(frozen=True, slots=True)
class _CompiledField:
    """A field as JSON text: the constant prefix, then one slot per member-dependent attribute."""

    prefix: str
    slots: tuple[tuple[str, str | None, TemplateText, bool, bool], ...]
    #: For the common shape (only ``value`` varies and is one placeholder): the
    #: placeholder and the JSON text before the value, else ``None``.
    simple: tuple[str, str] | None

    @classmethod
    def compile(cls, field: FieldTemplate) -> _CompiledField:
        head = ",".join(f"{_json(name)}:{_json(value)}" for name, value in field.static.items())
        slots = tuple(
            # (JSON before the value, the placeholder when the text is only that
            # placeholder, the text, HTML-escape it, is it the "value" key)
            (
                f",{_json(name)}:",
                text.single if name != "attributedValue" else None,
                text,
                name == "attributedValue",
                name == "value",
            )
            for name, text in field.dynamic.items()
        )
        simple = None
        if len(slots) == 1 and slots[0][4] and slots[0][1] is not None:
            simple = (slots[0][1], "{" + head + slots[0][0])
        return cls("{" + head, slots, simple)

    def render(self, context: dict[str, object]) -> str | None:
        """JSON object for this member, or ``None`` when the field has no value."""
        out = [self.prefix]
        for head, single, text, escape, is_value in self.slots:
            if single is not None:
                # Fast path for the common "{placeholder}" value; same rules as render().
                value = context[single]
                if type(value) is Decimal:
                    value = text.render(context)
            else:
                value = text.render(context, escape=escape)
            if value is None or (is_value and value == ""):
                return None
            out.append(head)
            out.append(_encode(value))
        out.append("}")
        return "".join(out)


@dataclass(frozen=True, slots=True)
class PassJsonWriter:
    """Writes ``pass.json`` for one template and pass identity.

    Build it with :func:`compile_pass_json`, which caches one writer per identity.
    """

    template: PassTemplate
    head: str
    barcode_heads: tuple[str, ...]
    style_opening: str
    groups: tuple[tuple[str, tuple[_CompiledField, ...]], ...]

    def write(self, card: CardState, authentication_token: str) -> bytes:
        """Return the UTF-8 ``pass.json`` of ``card``."""
        if len(authentication_token) < MIN_AUTHENTICATION_TOKEN_LENGTH:
            minimum = MIN_AUTHENTICATION_TOKEN_LENGTH
            raise ValueError(f"authentication_token must be at least {minimum} characters")
        try:
            card.barcode_message.encode(BARCODE_MESSAGE_ENCODING)
        except UnicodeEncodeError as exc:
            raise ValueError("barcode_message must be ISO-8859-1 text") from exc
        template = self.template
        context = template.context(card)
        parts = [
            self.head,
            ',"serialNumber":',
            encode_basestring(card.serial_number),
            ',"organizationName":',
            encode_basestring(template.render_text(template.organization_name, context)),
            ',"description":',
            encode_basestring(template.render_text(template.description, context)),
        ]
        if template.logo_text is not None:
            parts += [
                ',"logoText":',
                encode_basestring(template.render_text(template.logo_text, context)),
            ]
        parts += [',"authenticationToken":', encode_basestring(authentication_token)]

        barcode_tail = encode_basestring(card.barcode_message)
        if card.barcode_alt_text:
            barcode_tail += ',"altText":' + encode_basestring(card.barcode_alt_text)
        barcode_tail += "}"
        parts += [
            ',"barcodes":[',
            ",".join(head + barcode_tail for head in self.barcode_heads),
            "]",
        ]

        if card.locations:
            locations = ",".join(_location(place) for place in card.locations[:MAX_LOCATIONS])
            parts += [',"locations":[', locations, "]"]
        if card.expiration_date is not None:
            parts += [
                ',"expirationDate":',
                encode_basestring(card.expiration_date.isoformat(timespec="seconds")),
            ]
        if card.voided:
            parts.append(',"voided":true')

        groups = []
        for opening, fields in self.groups:
            rendered = []
            for field in fields:
                simple = field.simple
                if simple is None:
                    text = field.render(context)
                    if text is not None:
                        rendered.append(text)
                    continue
                # Inlined fast path of _CompiledField.render for one "{placeholder}" value.
                value = context[simple[0]]
                if value is None or value == "":
                    continue
                if type(value) is Decimal:
                    value = int(value) if value == value.to_integral_value() else float(value)
                rendered.append(simple[1] + _encode(value) + "}")
            if rendered:
                groups.append(opening + ",".join(rendered) + "]")
        parts += [self.style_opening, ",".join(groups), "}}"]
        return "".join(parts).encode("utf-8")


@lru_cache(maxsize=4096)
def _location(place: PassLocation) -> str:
    """JSON of one location; cached because members share the same few stores."""
    latitude, longitude = _encode(float(place.latitude)), _encode(float(place.longitude))
    text = f'{{"latitude":{latitude},"longitude":{longitude}'
    if place.relevant_text:
        text += ',"relevantText":' + encode_basestring(place.relevant_text)
    return text + "}"


@lru_cache(maxsize=128)
def compile_pass_json(
    template: PassTemplate,
    *,
    pass_type_id: str,
    team_id: str,
    web_service_url: str,
) -> PassJsonWriter:
    """Pre-encode everything in ``pass.json`` that does not depend on the member (cached)."""
    if not pass_type_id.startswith("pass."):
        raise ValueError("pass_type_id must start with 'pass.'")
    if not team_id:
        raise ValueError("team_id must not be empty")
    if not web_service_url.startswith(("https://", "http://")):
        raise ValueError("web_service_url must be an http(s) URL (https in production)")
    head: dict[str, object] = {
        "formatVersion": 1,
        "passTypeIdentifier": pass_type_id,
        "teamIdentifier": team_id,
        "webServiceURL": web_service_url,
        **template.colors,
    }
    if template.sharing_prohibited:
        head["sharingProhibited"] = True
    barcode_heads = tuple(
        "{"
        + _json({"format": barcode_format, "messageEncoding": BARCODE_MESSAGE_ENCODING})[1:-1]
        + ',"message":'
        for barcode_format in template.barcode_formats
    )
    groups = tuple(
        (
            f"{_json(group)}:[",
            tuple(
                _CompiledField.compile(field)
                for field in template.fields.get(group, ())
                if field.static.get("value") != ""
            ),
        )
        for group in FIELD_GROUPS
        if template.fields.get(group)
    )
    return PassJsonWriter(
        template=template,
        head=_json(head)[:-1],
        barcode_heads=barcode_heads,
        style_opening=f",{_json(template.style)}:{{",
        groups=groups,
    )
