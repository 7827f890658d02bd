"""Card designs: load a ``pass_templates/<name>/`` folder and render it for one member.

A template folder holds ``template.json`` (colours, texts, field layout,
barcode formats), the images (``icon.png``, ``logo.png``, ``strip.png`` and
their ``@2x``/``@3x`` variants) and ``<lang>.lproj/pass.strings``
localizations. :func:`load_template` reads and validates it once per process
(the bytes of every file are cached in memory), and :class:`PassTemplate`
turns a :class:`~wallet_service.passes.model.CardState` into field values.

Field strings may contain placeholders such as ``{balance}`` or
``{member_name}`` (see :data:`PLACEHOLDERS`). A value made of exactly one
placeholder keeps its type, so ``"{balance}"`` becomes the JSON number Wallet
formats with ``numberStyle``. A field whose placeholder has no value for this
member (``{next_tier}`` at the top tier, ``{cashback}`` without cashback) or
whose value renders empty is left out. Substituted text is never re-parsed, so a
member named ``"{balance}"`` stays literal. Labels and ``changeMessage`` are
written as English text and double as the keys of ``pass.strings``.

Example::

    template = load_template("points")
    fields = template.render_fields(card)      # {"primaryFields": [{"key": "balance", ...}]}
"""

from __future__ import annotations

import html
import json
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from wallet_service.passes.model import CardState
from wallet_service.passes.stamp_strip import RGB, StampStripStyle, render_stamp_strip

__all__ = [
    "BARCODE_FORMATS",
    "DEFAULT_TEMPLATES_ROOT",
    "FIELD_GROUPS",
    "FIELD_KEYS",
    "PLACEHOLDERS",
    "FieldTemplate",
    "PassTemplate",
    "TemplateError",
    "TemplateText",
    "load_template",
    "parse_rgb",
]

#: The repository's ``pass_templates/`` folder; deployments may pass their own root.
DEFAULT_TEMPLATES_ROOT = Path(__file__).resolve().parents[2] / "pass_templates"

#: Placeholders a template may use, each filled from :class:`CardState`.
PLACEHOLDERS = frozenset(
    {
        "serial_number",
        "member_name",
        "balance",
        "tier",
        "next_tier",
        "points_to_next_tier",
        "progress",
        "stamps",
        "stamps_total",
        "stamps_remaining",
        "cashback",
        "cashback_currency",
        "program_name",
        "organization_name",
        "terms",
        "card_page_url",
        "expiration_date",
    }
)

#: Apple's field groups of a store card, in display order.
FIELD_GROUPS = ("headerFields", "primaryFields", "secondaryFields", "auxiliaryFields", "backFields")

#: Keys Apple defines for a field dictionary (``PassFieldContent``).
FIELD_KEYS = frozenset(
    {
        "attributedValue",
        "changeMessage",
        "currencyCode",
        "dataDetectorTypes",
        "dateStyle",
        "ignoresTimeZone",
        "isRelative",
        "key",
        "label",
        "numberStyle",
        "textAlignment",
        "timeStyle",
        "value",
    }
)

#: Barcode formats Wallet renders; Code128 only inside the ``barcodes`` array.
BARCODE_FORMATS = frozenset(
    {
        "PKBarcodeFormatQR",
        "PKBarcodeFormatPDF417",
        "PKBarcodeFormatAztec",
        "PKBarcodeFormatCode128",
    }
)

_COLOR_KEYS = frozenset({"backgroundColor", "foregroundColor", "labelColor"})
_RGB = re.compile(r"^rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_IMAGE = re.compile(r"^(icon|logo|strip|thumbnail|background|footer)(@[23]x)?\.png$")
_LPROJ = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]+)*\.lproj$")
_SCHEMA_VERSION = 1
_STRIP_SCALES = (("strip.png", 1), ("strip@2x.png", 2), ("strip@3x.png", 3))


class TemplateError(ValueError):
    """A template folder is missing a file or its ``template.json`` is invalid."""


def parse_rgb(value: object, *, where: str) -> RGB:
    """Parse Apple's CSS-style ``rgb(r, g, b)`` colour into a tuple."""
    match = _RGB.match(value) if isinstance(value, str) else None
    channels = tuple(int(group) for group in match.groups()) if match else ()
    if len(channels) != 3 or any(channel > 255 for channel in channels):
        raise TemplateError(f"{where}: expected 'rgb(r, g, b)' with 0-255 channels, got {value!r}")
    return channels[0], channels[1], channels[2]


@dataclass(frozen=True, slots=True)
class TemplateText:
    """A template string compiled once into literal text and placeholder names.

    ``single`` names the placeholder when the string is exactly one placeholder
    (the value then keeps its type), else it is ``None``.
    """

    source: str
    parts: tuple[tuple[str, str | None], ...]
    single: str | None

    @classmethod
    def compile(cls, source: str, *, where: str) -> TemplateText:
        try:
            parsed = list(string.Formatter().parse(source))
        except ValueError as exc:
            raise TemplateError(f"{where}: malformed placeholder in {source!r}") from exc
        parts: list[tuple[str, str | None]] = []
        for literal, name, spec, conversion in parsed:
            if name is not None and (spec or conversion or name not in PLACEHOLDERS):
                known = ", ".join(sorted(PLACEHOLDERS))
                raise TemplateError(f"{where}: unknown placeholder {{{name}}}; known: {known}")
            parts.append((literal, name))
        single = parts[0][1] if len(parts) == 1 and parts[0][0] == "" else None
        return cls(source, tuple(parts), single)

    @property
    def is_static(self) -> bool:
        return all(name is None for _, name in self.parts)

    def render(self, context: Mapping[str, object], *, escape: bool = False) -> object | None:
        """Substitute placeholders; ``None`` when one has no value for this member."""
        if self.single is not None:
            raw = context[self.single]
            if raw is None:
                return None
            if isinstance(raw, Decimal):
                # JSON has no decimal type; display amounts survive a float round trip.
                return int(raw) if raw == raw.to_integral_value() else float(raw)
            return html.escape(raw) if escape and isinstance(raw, str) else raw
        pieces: list[str] = []
        for literal, name in self.parts:
            pieces.append(literal)
            if name is not None:
                value = context[name]
                if value is None:
                    return None
                text = str(value)
                pieces.append(html.escape(text) if escape else text)
        return "".join(pieces)


@dataclass(frozen=True, slots=True)
class FieldTemplate:
    """One field of the layout: static attributes plus strings with placeholders."""

    key: str
    static: Mapping[str, object]
    dynamic: Mapping[str, TemplateText]

    def render(self, context: Mapping[str, object]) -> dict[str, object] | None:
        """Return Apple's field dictionary, or ``None`` when the field has no value."""
        rendered = dict(self.static)
        for attribute, text in self.dynamic.items():
            # Only attributedValue is HTML; escaping elsewhere would show entities.
            value = text.render(context, escape=attribute == "attributedValue")
            if value is None:
                return None
            rendered[attribute] = value
        if rendered.get("value") == "":
            return None
        return rendered


@dataclass(frozen=True, eq=False)
class PassTemplate:
    """A loaded, validated card design. Identity-hashed so builders can cache per template."""

    name: str
    directory: Path
    style: str
    organization_name: TemplateText
    description: TemplateText
    logo_text: TemplateText | None
    colors: Mapping[str, str]
    barcode_formats: tuple[str, ...]
    sharing_prohibited: bool
    fields: Mapping[str, tuple[FieldTemplate, ...]]
    files: Mapping[str, bytes]
    stamp_strip: StampStripStyle | None

    @property
    def localizations(self) -> tuple[str, ...]:
        """Languages with a ``pass.strings``, e.g. ``("en", "fr")``."""
        return tuple(
            sorted(
                path.split("/", 1)[0].removesuffix(".lproj")
                for path in self.files
                if path.endswith("/pass.strings")
            )
        )

    def context(self, card: CardState) -> dict[str, object]:
        """Placeholder values for ``card`` (``None`` marks "not applicable")."""
        return {
            "serial_number": card.serial_number,
            "member_name": card.member_name,
            "balance": card.balance_points,
            "tier": card.tier_name,
            "next_tier": card.next_tier_name,
            "points_to_next_tier": card.points_to_next_tier,
            "progress": card.progress_text,
            "stamps": card.stamps_filled,
            "stamps_total": card.stamps_total,
            "stamps_remaining": card.stamps_remaining,
            "cashback": card.cashback.amount if card.cashback else None,
            "cashback_currency": card.cashback.currency if card.cashback else None,
            "program_name": card.program_name,
            "organization_name": card.organization_name,
            "terms": card.terms,
            "card_page_url": card.card_page_url,
            "expiration_date": (
                card.expiration_date.isoformat(timespec="seconds") if card.expiration_date else None
            ),
        }

    def render_fields(
        self, card: CardState, context: Mapping[str, object] | None = None
    ) -> dict[str, list[dict[str, object]]]:
        """Field dictionaries per group, leaving out fields without a value."""
        values = context if context is not None else self.context(card)
        groups: dict[str, list[dict[str, object]]] = {}
        for group, templates in self.fields.items():
            rendered = [field for field in (t.render(values) for t in templates) if field]
            if rendered:
                groups[group] = rendered
        return groups

    @staticmethod
    def render_text(text: TemplateText, context: Mapping[str, object]) -> str:
        """Render a top-level text (organization name, description) from a context."""
        value = text.render(context)
        return "" if value is None else str(value)

    @property
    def member_file_names(self) -> frozenset[str]:
        """Names :meth:`member_files` provides; the static files of these names are unused."""
        if self.stamp_strip is None:
            return frozenset()
        return frozenset(name for name, _ in _STRIP_SCALES)

    def member_files(self, card: CardState) -> dict[str, bytes]:
        """Images that depend on the member and replace the static ones of the same name."""
        if self.stamp_strip is None:
            return {}
        return {
            name: render_stamp_strip(
                card.stamps_filled, card.stamps_total, scale, style=self.stamp_strip
            )
            for name, scale in _STRIP_SCALES
        }


def load_template(name: str, root: Path = DEFAULT_TEMPLATES_ROOT) -> PassTemplate:
    """Load ``root/name`` once per process; later calls return the cached template.

    Raises :class:`TemplateError` naming the file and the problem.
    """
    if not _NAME.match(name):
        raise TemplateError(f"invalid template name {name!r}")
    return _load(name, root.resolve())


@lru_cache(maxsize=64)
def _load(name: str, root: Path) -> PassTemplate:
    directory = root / name
    spec_path = directory / "template.json"
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TemplateError(f"no template.json in {directory}") from exc
    except json.JSONDecodeError as exc:
        raise TemplateError(f"{spec_path}: invalid JSON ({exc})") from exc
    where = str(spec_path)
    if not isinstance(spec, dict):
        raise TemplateError(f"{where}: expected a JSON object")
    if spec.get("schema") != _SCHEMA_VERSION:
        raise TemplateError(f"{where}: 'schema' must be {_SCHEMA_VERSION}")
    if spec.get("style") != "storeCard":
        raise TemplateError(f"{where}: only the 'storeCard' style is supported")

    files = _read_files(directory)
    logo_text = spec.get("logoText")
    return PassTemplate(
        name=name,
        directory=directory,
        style="storeCard",
        organization_name=TemplateText.compile(
            _string(spec, "organizationName", where), where=where
        ),
        description=TemplateText.compile(_string(spec, "description", where), where=where),
        logo_text=(
            TemplateText.compile(logo_text, where=where) if isinstance(logo_text, str) else None
        ),
        colors=MappingProxyType(_colors(spec.get("colors", {}), where)),
        barcode_formats=_barcode_formats(spec.get("barcodeFormats", ["PKBarcodeFormatQR"]), where),
        sharing_prohibited=bool(spec.get("sharingProhibited", False)),
        fields=MappingProxyType(_fields(spec.get("fields"), where)),
        files=MappingProxyType(files),
        stamp_strip=_strip(spec.get("strip", {"kind": "static"}), where),
    )


def _string(spec: Mapping[str, Any], key: str, where: str) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value:
        raise TemplateError(f"{where}: '{key}' must be a non-empty string")
    return value


def _colors(raw: object, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not set(raw) <= _COLOR_KEYS:
        raise TemplateError(f"{where}: 'colors' takes only {', '.join(sorted(_COLOR_KEYS))}")
    colors: dict[str, str] = {}
    for key, value in raw.items():
        r, g, b = parse_rgb(value, where=f"{where}: colors.{key}")
        # Normalise spacing: Wallet is strict about the CSS form.
        colors[key] = f"rgb({r}, {g}, {b})"
    return colors


def _barcode_formats(raw: object, where: str) -> tuple[str, ...]:
    if (
        not isinstance(raw, list)
        or not raw
        or not all(isinstance(item, str) and item in BARCODE_FORMATS for item in raw)
    ):
        raise TemplateError(
            f"{where}: 'barcodeFormats' must list some of {', '.join(sorted(BARCODE_FORMATS))}"
        )
    return tuple(dict.fromkeys(raw))


def _fields(raw: object, where: str) -> dict[str, tuple[FieldTemplate, ...]]:
    if not isinstance(raw, dict) or not set(raw) <= set(FIELD_GROUPS):
        raise TemplateError(f"{where}: 'fields' takes only {', '.join(FIELD_GROUPS)}")
    seen: set[str] = set()
    groups: dict[str, tuple[FieldTemplate, ...]] = {}
    for group in FIELD_GROUPS:
        entries = raw.get(group, [])
        if not isinstance(entries, list):
            raise TemplateError(f"{where}: fields.{group} must be a list")
        compiled = []
        for entry in entries:
            field_template = _field(entry, f"{where}: fields.{group}")
            # Apple requires keys unique across the whole pass, not just the group.
            if field_template.key in seen:
                raise TemplateError(f"{where}: duplicate field key {field_template.key!r}")
            seen.add(field_template.key)
            compiled.append(field_template)
        groups[group] = tuple(compiled)
    return groups


def _field(entry: object, where: str) -> FieldTemplate:
    if not isinstance(entry, dict):
        raise TemplateError(f"{where}: each field must be an object")
    unknown = set(entry) - FIELD_KEYS
    if unknown:
        raise TemplateError(f"{where}: keys Apple does not define: {', '.join(sorted(unknown))}")
    key = entry.get("key")
    if not isinstance(key, str) or not key or "{" in key or "}" in key:
        raise TemplateError(f"{where}: every field needs a constant 'key' (no placeholders)")
    if "value" not in entry:
        raise TemplateError(f"{where}.{key}: every field needs a 'value'")
    change_message = entry.get("changeMessage")
    if change_message is not None and (
        not isinstance(change_message, str) or "%@" not in change_message
    ):
        raise TemplateError(f"{where}.{key}: changeMessage must contain %@")
    static: dict[str, object] = {}
    dynamic: dict[str, TemplateText] = {}
    for attribute, value in entry.items():
        if isinstance(value, str):
            text = TemplateText.compile(value, where=f"{where}.{key}.{attribute}")
            if not text.is_static:
                dynamic[attribute] = text
                continue
            value = text.render({})
        static[attribute] = value
    return FieldTemplate(
        key=key, static=MappingProxyType(static), dynamic=MappingProxyType(dynamic)
    )


def _strip(raw: object, where: str) -> StampStripStyle | None:
    if not isinstance(raw, dict) or raw.get("kind") not in ("static", "stamps"):
        raise TemplateError(f"{where}: 'strip.kind' must be 'static' or 'stamps'")
    if raw["kind"] == "static":
        return None
    style = raw.get("style", {})
    known = {field.name for field in dataclass_fields(StampStripStyle)}
    if not isinstance(style, dict) or not set(style) <= known:
        raise TemplateError(f"{where}: 'strip.style' takes only {', '.join(sorted(known))}")
    colours = {
        key: parse_rgb(value, where=f"{where}: strip.style.{key}") for key, value in style.items()
    }
    return StampStripStyle(**colours)


def _read_files(directory: Path) -> dict[str, bytes]:
    """Read every file the pass ships: images at the root and in ``*.lproj`` folders."""
    files: dict[str, bytes] = {}
    for path in sorted(directory.iterdir()):
        if path.is_file() and _IMAGE.match(path.name):
            files[path.name] = path.read_bytes()
        elif path.is_dir() and _LPROJ.match(path.name):
            for inner in sorted(path.iterdir()):
                if inner.is_file() and (inner.name == "pass.strings" or _IMAGE.match(inner.name)):
                    files[f"{path.name}/{inner.name}"] = inner.read_bytes()
    if "icon.png" not in files:
        raise TemplateError(f"{directory}: icon.png is mandatory for every pass")
    return files
