"""The stamp card strip: one image per progress step, Apple-sized, deterministic, cached."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from wallet_service.passes.stamp_strip import StampStripStyle, render_stamp_strip


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_strip_has_apples_store_card_size_at_each_scale(scale: int) -> None:
    with Image.open(io.BytesIO(render_stamp_strip(3, 10, scale))) as strip:
        assert strip.format == "PNG"
        assert strip.size == (375 * scale, 123 * scale)


def test_strip_differs_with_the_number_of_filled_stamps() -> None:
    strips = {render_stamp_strip(filled, 10, 2) for filled in range(11)}

    assert len(strips) == 11


def test_strip_is_cached_and_identical_for_the_same_progress() -> None:
    assert render_stamp_strip(4, 10, 3) is render_stamp_strip(4, 10, 3)


def test_strip_follows_the_templates_colours() -> None:
    green = StampStripStyle(stamp_fill=(40, 120, 60))

    assert render_stamp_strip(5, 8, 1, style=green) != render_stamp_strip(5, 8, 1)


def test_filled_slots_use_the_stamp_colour_and_empty_ones_do_not() -> None:
    style = StampStripStyle()
    with Image.open(io.BytesIO(render_stamp_strip(1, 5, 1, style=style))) as strip:
        rgb = strip.convert("RGB")
    # Five slots make one row: cells of (375 - 2 * 18) / 5 points, radius 40 % of a cell.
    cell = (375 - 36) / 5
    radius = cell * 0.40
    y = round(10 + 103 / 2)
    filled = rgb.getpixel((round(18 + cell * 0.5 - radius * 0.75), y))
    empty = rgb.getpixel((round(18 + cell * 1.5 - radius * 0.75), y))

    assert _close(filled, style.stamp_fill)
    assert not _close(empty, style.stamp_fill)


def _close(pixel: object, colour: tuple[int, int, int], tolerance: int = 12) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


@pytest.mark.parametrize(
    ("filled", "total", "scale"), [(-1, 10, 1), (11, 10, 1), (0, 21, 1), (1, 10, 4)]
)
def test_out_of_range_requests_are_refused(filled: int, total: int, scale: int) -> None:
    with pytest.raises(ValueError):
        render_stamp_strip(filled, total, scale)
