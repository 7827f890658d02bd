"""Card designs: the bundled templates are complete, localized, Apple-sized, and validated."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from tests.passes.samples import sample_card
from wallet_service.passes.templates import (
    DEFAULT_TEMPLATES_ROOT,
    PassTemplate,
    TemplateError,
    load_template,
)

BUNDLED = ("points", "stamps")
# Apple's store-card image sizes in points (width, height); logos may be narrower/shorter.
EXACT_SIZES = {"icon": (29, 29), "strip": (375, 123)}
MAX_SIZES = {"logo": (160, 50)}
STRINGS_LINE = re.compile(r'^"((?:[^"\\]|\\.)*)"\s*=\s*"((?:[^"\\]|\\.)*)";$')


def parse_strings(data: bytes) -> dict[str, str]:
    """Parse an Apple ``.strings`` file (UTF-8, ``"key" = "value";``, ``/* */`` comments)."""
    text = re.sub(r"/\*.*?\*/", "", data.decode("utf-8"), flags=re.DOTALL)
    entries: dict[str, str] = {}
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        match = STRINGS_LINE.match(line)
        assert match, f"not a .strings entry: {line!r}"
        entries[match.group(1)] = match.group(2)
    return entries


def localizable_texts(template: PassTemplate) -> set[str]:
    texts = set()
    for fields in template.fields.values():
        for field in fields:
            for attribute in ("label", "changeMessage"):
                value = field.static.get(attribute)
                if isinstance(value, str):
                    texts.add(value)
    return texts


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_template_ships_every_image_at_apple_sizes(name: str) -> None:
    template = load_template(name)
    for image, (width, height) in {**EXACT_SIZES, **MAX_SIZES}.items():
        for scale in (1, 2, 3):
            file_name = f"{image}{'' if scale == 1 else f'@{scale}x'}.png"
            with Image.open(io.BytesIO(template.files[file_name])) as picture:
                size = picture.size
            if image in EXACT_SIZES:
                assert size == (width * scale, height * scale), file_name
            else:
                assert size[0] <= width * scale and size[1] <= height * scale, file_name


@pytest.mark.parametrize("name", BUNDLED)
def test_every_label_and_change_message_is_translated_in_english_and_french(name: str) -> None:
    template = load_template(name)
    english = parse_strings(template.files["en.lproj/pass.strings"])
    french = parse_strings(template.files["fr.lproj/pass.strings"])

    assert template.localizations == ("en", "fr")
    for text in localizable_texts(template):
        assert text in english, f"{text!r} missing from en.lproj"
        assert text in french, f"{text!r} missing from fr.lproj"
        if "%@" in text:
            assert "%@" in english[text] and "%@" in french[text]
    assert english != french


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_template_uses_css_rgb_colours_and_known_barcodes(name: str) -> None:
    template = load_template(name)

    assert set(template.colors) == {"backgroundColor", "foregroundColor", "labelColor"}
    for colour in template.colors.values():
        assert re.fullmatch(r"rgb\(\d{1,3}, \d{1,3}, \d{1,3}\)", colour)
    assert template.barcode_formats[0] == "PKBarcodeFormatQR"


def test_load_template_reads_the_folder_once() -> None:
    assert load_template("points") is load_template("points")
    assert load_template("points", DEFAULT_TEMPLATES_ROOT) is load_template("points")


def test_single_placeholder_values_keep_their_type_and_missing_values_drop_the_field() -> None:
    template = load_template("points")
    fields = template.render_fields(sample_card(next_tier_name=None, points_to_next_tier=None))
    values = {field["key"]: field["value"] for group in fields.values() for field in group}

    assert values["balance"] == 1250
    assert "next_tier" not in values
    assert "points_to_next_tier" not in values


@given(name=st.text(min_size=1, max_size=30))
def test_member_values_are_never_reinterpreted_as_placeholders(name: str) -> None:
    template = load_template("points")
    fields = template.render_fields(sample_card(member_name=name + "{balance}"))
    member = next(field for field in fields["secondaryFields"] if field["key"] == "member")

    assert member["value"] == name + "{balance}"


@pytest.fixture
def template_root(tmp_path: Path) -> Path:
    shutil.copytree(DEFAULT_TEMPLATES_ROOT / "points", tmp_path / "custom")
    return tmp_path


def _rewrite(root: Path, change: Any) -> None:
    path = root / "custom" / "template.json"
    spec = json.loads(path.read_text(encoding="utf-8"))
    change(spec)
    path.write_text(json.dumps(spec), encoding="utf-8")


def test_template_may_offer_several_barcode_formats(template_root: Path) -> None:
    def formats(spec: dict[str, Any]) -> None:
        spec["barcodeFormats"] = ["PKBarcodeFormatAztec", "PKBarcodeFormatCode128"]

    _rewrite(template_root, formats)

    template = load_template("custom", template_root)
    assert template.barcode_formats == ("PKBarcodeFormatAztec", "PKBarcodeFormatCode128")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["fields"]["primaryFields"][0].update(value="{points}"), "unknown placeholder"),
        (lambda s: s["fields"]["primaryFields"][0].update(color="red"), "Apple does not define"),
        (lambda s: s["fields"]["primaryFields"][0].update(changeMessage="Now"), "%@"),
        (lambda s: s["colors"].update(backgroundColor="#ff0000"), "rgb"),
        (lambda s: s["fields"]["backFields"].append({"key": "tier", "value": "x"}), "duplicate"),
        (lambda s: s.update(barcodeFormats=["PKBarcodeFormatEAN13"]), "barcodeFormats"),
        (lambda s: s.update(style="eventTicket"), "storeCard"),
        (lambda s: s["fields"]["primaryFields"][0].update(key="{tier}"), "constant 'key'"),
        (lambda s: s.update(strip={"kind": "stamps", "style": {"ink": "rgb(0, 0, 0)"}}), "strip"),
    ],
)
def test_invalid_template_is_rejected_with_a_clear_error(
    template_root: Path, change: Any, message: str
) -> None:
    _rewrite(template_root, change)

    with pytest.raises(TemplateError, match=re.escape(message)):
        load_template("custom", template_root)


def test_template_without_icon_is_rejected(template_root: Path) -> None:
    (template_root / "custom" / "icon.png").unlink()

    with pytest.raises(TemplateError, match=r"icon\.png is mandatory"):
        load_template("custom", template_root)


@pytest.mark.parametrize("name", ["../points", "Points", "", "a/b"])
def test_template_names_cannot_escape_the_templates_folder(name: str) -> None:
    with pytest.raises(TemplateError, match="invalid template name"):
        load_template(name)


def test_files_outside_apples_names_are_not_shipped(template_root: Path) -> None:
    (template_root / "custom" / "README.md").write_text("notes")
    (template_root / "custom" / "en.lproj" / "notes.txt").write_text("notes")

    files = load_template("custom", template_root).files

    assert "template.json" not in files
    assert "README.md" not in files
    assert "en.lproj/notes.txt" not in files
    assert "en.lproj/pass.strings" in files
