"""Per-member strip image of a stamp card: filled stamps, empty slots, the reward slot.

A stamp card's strip (375x123 points, Apple's store-card size) shows the
member's progress, so it cannot be a static file of the template. It is drawn
with plain shapes (no font, so the server needs nothing installed), supersampled
and downscaled for crisp anti-aliased edges, quantised to keep the ``.pkpass``
small, and cached by ``(filled, total, scale, style)``: a 10-stamp program has
only 11 x 3 distinct images, each rendered once per process.

The look (colours) comes from the template's ``strip.style``; the default is the
"Fournil du Coin" bakery design shipped in ``pass_templates/stamps``.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw

__all__ = [
    "MAX_STAMPS",
    "RGB",
    "STRIP_SIZE_POINTS",
    "StampStripStyle",
    "draw_croissant",
    "draw_wheat_ear",
    "render_stamp_strip",
]

RGB = tuple[int, int, int]

#: Apple's store-card strip size in points; pixels = points x scale.
STRIP_SIZE_POINTS = (375, 123)
#: Beyond this the slots get too small to read on a phone.
MAX_STAMPS = 20
_SUPERSAMPLE = 4


@dataclass(frozen=True, slots=True)
class StampStripStyle:
    """Colours of the stamp strip (hashable: it is part of the cache key)."""

    background_top: RGB = (248, 238, 220)
    background_bottom: RGB = (236, 216, 186)
    speckle: RGB = (214, 186, 146)
    stamp_fill: RGB = (170, 98, 42)
    stamp_ink: RGB = (252, 244, 228)
    empty_outline: RGB = (190, 150, 104)
    reward_fill: RGB = (122, 62, 28)
    reward_ring: RGB = (226, 170, 84)


def render_stamp_strip(
    filled: int, total: int, scale: int, *, style: StampStripStyle | None = None
) -> bytes:
    """Return the PNG strip for ``filled`` of ``total`` stamps at ``scale`` (1, 2 or 3).

    The last slot is the reward slot, drawn as a croissant; every other slot
    shows a wheat ear, solid when stamped and faint in a dashed ring when not.
    """
    if scale not in (1, 2, 3):
        raise ValueError("scale must be 1, 2 or 3 (Apple's @1x/@2x/@3x)")
    if not 0 <= total <= MAX_STAMPS:
        raise ValueError(f"total must be between 0 and {MAX_STAMPS}")
    if not 0 <= filled <= total:
        raise ValueError("filled must be between 0 and total")
    return _render(filled, total, scale, style or StampStripStyle())


@lru_cache(maxsize=512)
def _render(filled: int, total: int, scale: int, style: StampStripStyle) -> bytes:
    factor = scale * _SUPERSAMPLE
    width, height = STRIP_SIZE_POINTS[0] * factor, STRIP_SIZE_POINTS[1] * factor
    canvas = _background(width, height, factor, style)
    draw = ImageDraw.Draw(canvas)
    for index, (cx, cy, radius) in enumerate(_slots(total, factor)):
        is_reward = index == total - 1
        stamped = index < filled
        if is_reward:
            _reward_slot(draw, cx, cy, radius, stamped, style, factor)
        elif stamped:
            _filled_slot(draw, cx, cy, radius, style, factor)
        else:
            _empty_slot(draw, cx, cy, radius, style, factor)
    final = canvas.resize(
        (STRIP_SIZE_POINTS[0] * scale, STRIP_SIZE_POINTS[1] * scale), Image.Resampling.LANCZOS
    )
    # 256 colours are plenty for this flat palette and cut the file size ~3x.
    palette = final.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _background(width: int, height: int, factor: int, style: StampStripStyle) -> Image.Image:
    gradient = Image.linear_gradient("L").resize((width, height))
    top = Image.new("RGB", (width, height), style.background_top)
    bottom = Image.new("RGB", (width, height), style.background_bottom)
    canvas = Image.composite(bottom, top, gradient)
    # A fixed seed keeps the flour-dust texture identical across renders and
    # processes, so two passes with the same progress carry identical bytes.
    rng = random.Random(1907)  # noqa: S311 - texture, not security
    dust = Image.new("L", (width, height), 0)
    dust_draw = ImageDraw.Draw(dust)
    for _ in range(160):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.4, 1.1) * factor
        dust_draw.ellipse((x - r, y - r, x + r, y + r), fill=rng.randint(40, 110))
    speckle = Image.new("RGB", (width, height), style.speckle)
    return Image.composite(speckle, canvas, dust)


def _slots(total: int, factor: int) -> list[tuple[float, float, float]]:
    """Centres and radii of the slots: one row up to 7 stamps, two rows beyond."""
    if total == 0:
        return []
    width, height = STRIP_SIZE_POINTS
    rows = 1 if total <= 7 else 2
    per_row = math.ceil(total / rows)
    margin_x, margin_y = 18.0, 10.0
    cell_w = (width - 2 * margin_x) / per_row
    cell_h = (height - 2 * margin_y) / rows
    radius = min(cell_w, cell_h) * 0.40
    slots: list[tuple[float, float, float]] = []
    for index in range(total):
        row, column = divmod(index, per_row)
        in_row = per_row if row < rows - 1 else total - per_row * (rows - 1)
        # Centre a shorter last row under the first one.
        offset = (per_row - in_row) * cell_w / 2
        cx = margin_x + offset + cell_w * (column + 0.5)
        cy = margin_y + cell_h * (row + 0.5)
        slots.append((cx * factor, cy * factor, radius * factor))
    return slots


def _filled_slot(
    draw: ImageDraw.ImageDraw,
    cx: float,
    cy: float,
    radius: float,
    style: StampStripStyle,
    factor: int,
) -> None:
    draw.ellipse(_box(cx, cy, radius), fill=style.stamp_fill)
    draw.ellipse(_box(cx, cy, radius * 0.86), outline=style.stamp_ink, width=max(1, factor))
    draw_wheat_ear(draw, cx, cy, radius * 0.62, style.stamp_ink, style.stamp_fill)


def _empty_slot(
    draw: ImageDraw.ImageDraw,
    cx: float,
    cy: float,
    radius: float,
    style: StampStripStyle,
    factor: int,
) -> None:
    _dashed_circle(draw, cx, cy, radius * 0.96, style.empty_outline, width=1.4 * factor)
    faint = _mix(style.empty_outline, style.background_top, 0.55)
    draw_wheat_ear(draw, cx, cy, radius * 0.58, faint, style.background_top)


def _reward_slot(
    draw: ImageDraw.ImageDraw,
    cx: float,
    cy: float,
    radius: float,
    stamped: bool,
    style: StampStripStyle,
    factor: int,
) -> None:
    if stamped:
        draw.ellipse(_box(cx, cy, radius), fill=style.reward_fill)
        draw.ellipse(_box(cx, cy, radius * 0.86), outline=style.reward_ring, width=max(1, factor))
        draw_croissant(draw, cx, cy, radius * 0.8, style.reward_ring, style.reward_fill)
    else:
        draw.ellipse(_box(cx, cy, radius), outline=style.reward_ring, width=int(2.2 * factor))
        draw_croissant(draw, cx, cy, radius * 0.8, style.reward_ring, style.background_top)


def draw_wheat_ear(
    draw: ImageDraw.ImageDraw, cx: float, cy: float, size: float, colour: RGB, gap: RGB
) -> None:
    """A stylised wheat ear: a stem and three pairs of grains under a top grain.

    Each grain gets an outline in the surrounding colour so neighbours stay
    separate after downscaling instead of merging into one blob.
    """
    stem_width = max(1, int(size * 0.08))
    draw.line((cx, cy - size * 0.2, cx, cy + size * 1.0), fill=colour, width=stem_width)
    grain_rx, grain_ry = size * 0.16, size * 0.30
    outline = max(1, int(size * 0.06))
    for step in range(3):
        y = cy - size * 0.30 + step * size * 0.36
        for side in (-1, 1):
            gx = cx + side * size * 0.21
            draw.polygon(
                _ellipse_points(gx, y, grain_rx, grain_ry, side * 30.0),
                fill=colour,
                outline=gap,
                width=outline,
            )
    draw.polygon(
        _ellipse_points(cx, cy - size * 0.66, grain_rx, grain_ry, 0.0),
        fill=colour,
        outline=gap,
        width=outline,
    )


def draw_croissant(
    draw: ImageDraw.ImageDraw, cx: float, cy: float, size: float, colour: RGB, gap: RGB
) -> None:
    """A croissant seen from above: five rolled segments along an arc."""
    segments = (
        (-2, 0.30, 0.17),
        (-1, 0.42, 0.27),
        (0, 0.50, 0.36),
        (1, 0.42, 0.27),
        (2, 0.30, 0.17),
    )
    for position, rx, ry in segments:
        angle = math.radians(position * 34.0)
        sx = cx + math.sin(angle) * size * 0.62
        sy = cy + size * 0.28 - math.cos(angle) * size * 0.42
        draw.polygon(
            _ellipse_points(sx, sy, rx * size, ry * size, math.degrees(angle)),
            fill=colour,
            outline=gap,
            width=max(1, int(size * 0.05)),
        )


def _dashed_circle(
    draw: ImageDraw.ImageDraw, cx: float, cy: float, radius: float, colour: RGB, *, width: float
) -> None:
    dashes = 24
    span = 360.0 / dashes
    for index in range(dashes):
        start = index * span
        draw.arc(_box(cx, cy, radius), start, start + span * 0.6, fill=colour, width=int(width))


def _ellipse_points(
    cx: float, cy: float, rx: float, ry: float, angle_degrees: float, steps: int = 36
) -> list[tuple[float, float]]:
    # Pillow cannot rotate an ellipse, so rotate a polygon approximation instead.
    angle = math.radians(angle_degrees)
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    points = []
    for step in range(steps):
        t = 2 * math.pi * step / steps
        x, y = rx * math.cos(t), ry * math.sin(t)
        points.append((cx + x * cos_a - y * sin_a, cy + x * sin_a + y * cos_a))
    return points


def _box(cx: float, cy: float, radius: float) -> tuple[float, float, float, float]:
    return (cx - radius, cy - radius, cx + radius, cy + radius)


def _mix(a: RGB, b: RGB, weight: float) -> RGB:
    return (
        round(a[0] * (1 - weight) + b[0] * weight),
        round(a[1] * (1 - weight) + b[1] * weight),
        round(a[2] * (1 - weight) + b[2] * weight),
    )
