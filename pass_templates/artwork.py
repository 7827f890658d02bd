"""Generate the committed PNG artwork of the bundled pass templates.

Run once after changing a design, from the repository root::

    .venv/bin/python pass_templates/artwork.py

and commit the PNGs it writes. Two brands ship as examples:

* ``points/``: *Maison Caféine*, a Paris coffee roaster. Espresso background,
  a cappuccino-cup mark with a serif wordmark, and a strip of roasted beans that
  leaves the left side dark for the balance Wallet draws over it.
* ``stamps/``: *Fournil du Coin*, a neighbourhood bakery. Flour-cream
  background, a wheat-ear mark; its strip is rendered per member at issue time
  by :func:`wallet_service.passes.stamp_strip.render_stamp_strip`, and the
  committed strip is the empty card, used for previews.

Sizes follow Apple's store-card guidance in points (icon 29x29, logo up to
160x50, strip 375x123) at @1x, @2x and @3x. Shapes are drawn 4x larger and
downscaled for anti-aliasing; text uses the URW/DejaVu fonts found on Debian.
"""

from __future__ import annotations

import io
import math
import random
import sys
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from wallet_service.passes.stamp_strip import (
    StampStripStyle,
    draw_wheat_ear,
    render_stamp_strip,
)

__all__ = ["main", "render_points_artwork", "render_stamps_artwork"]

RGB = tuple[int, int, int]
Painter = Callable[[Image.Image, int], None]

ROOT = Path(__file__).resolve().parent
SCALES = (1, 2, 3)
SUPERSAMPLE = 4
ICON_SIZE = (29, 29)
LOGO_SIZE = (160, 50)
STRIP_SIZE = (375, 123)

SERIF_BOLD = (
    "/usr/share/fonts/opentype/urw-base35/P052-Bold.otf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
)
SANS = (
    "/usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)

# Maison Caféine palette (kept in sync with points/template.json).
ESPRESSO: RGB = (43, 29, 22)
ROAST: RGB = (104, 62, 38)
CREAM: RGB = (247, 236, 220)
CARAMEL: RGB = (214, 163, 108)
BEAN: RGB = (86, 50, 30)
BEAN_DARK: RGB = (40, 22, 12)

# Fournil du Coin palette (kept in sync with stamps/template.json).
FLOUR: RGB = (246, 237, 222)
CRUST: RGB = (170, 98, 42)
CRUST_DARK: RGB = (72, 42, 24)


def _font(candidates: tuple[str, ...], size: float) -> ImageFont.FreeTypeFont:
    for candidate in candidates:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, max(1, round(size)))
    sys.exit(f"none of these fonts is installed: {', '.join(candidates)}")


def _render(size: tuple[int, int], scale: int, paint: Painter, *, mode: str = "RGBA") -> bytes:
    """Paint at ``scale * SUPERSAMPLE`` and downscale, returning optimised PNG bytes."""
    factor = scale * SUPERSAMPLE
    transparent = (0, 0, 0, 0) if mode == "RGBA" else (0, 0, 0)
    image = Image.new(mode, (size[0] * factor, size[1] * factor), transparent)
    paint(image, factor)
    final = image.resize((size[0] * scale, size[1] * scale), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    # A 256-colour palette is visually lossless for this flat artwork and makes
    # every pass download (and the per-pass copy of the archive) much smaller.
    if mode == "RGB":
        final = final.quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG
        )
    else:
        final = final.quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    final.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


# -- Maison Caféine -------------------------------------------------------------------------


def _cup(draw: ImageDraw.ImageDraw, x: float, y: float, size: float, body: RGB, steam: RGB) -> None:
    """A cappuccino cup on its saucer with two wisps of steam, in a ``size`` square."""

    def p(u: float, v: float) -> tuple[float, float]:
        return (x + u * size, y + v * size)

    stroke = max(1, round(size * 0.055))
    for offset in (0.40, 0.56):
        wisp = [
            p(offset + 0.045 * math.sin(t / 10 * 2 * math.pi), 0.08 + 0.26 * t / 10)
            for t in range(11)
        ]
        draw.line(wisp, fill=steam, width=stroke, joint="curve")
        for end in (wisp[0], wisp[-1]):
            r = stroke / 2
            draw.ellipse((end[0] - r, end[1] - r, end[0] + r, end[1] + r), fill=steam)
    # Handle first, so the bowl covers its inner edge.
    draw.ellipse((*p(0.62, 0.47), *p(0.90, 0.71)), outline=body, width=round(size * 0.075))
    draw.chord((*p(0.12, 0.12), *p(0.80, 0.86)), 0, 180, fill=body)
    # The rim, seen slightly from above, hints at the crema.
    draw.ellipse((*p(0.12, 0.44), *p(0.80, 0.54)), fill=body)
    draw.ellipse((*p(0.17, 0.455), *p(0.75, 0.525)), fill=steam)
    draw.rounded_rectangle((*p(0.02, 0.86), *p(0.90, 0.93)), radius=size * 0.035, fill=body)


def _points_icon(image: Image.Image, factor: int) -> None:
    draw = ImageDraw.Draw(image)
    w, h = image.size
    draw.rounded_rectangle((0, 0, w - 1, h - 1), radius=w * 0.22, fill=ESPRESSO)
    _cup(draw, w * 0.07, h * 0.06, w * 0.88, CARAMEL, CREAM)


def _points_logo(image: Image.Image, factor: int) -> None:
    draw = ImageDraw.Draw(image)
    h = image.size[1]
    mark = h * 0.78
    _cup(draw, 0, (h - mark) / 2, mark, CARAMEL, CREAM)
    title = _font(SERIF_BOLD, 15.5 * factor)
    subtitle = _font(SANS, 5.6 * factor)
    text_x = mark + 5 * factor
    draw.text((text_x, h * 0.50), "Maison Caféine", font=title, fill=CREAM, anchor="ls")
    _spaced_text(draw, (text_x + 1 * factor, h * 0.74), "TORRÉFACTEUR · PARIS", subtitle, CARAMEL)


def _spaced_text(
    draw: ImageDraw.ImageDraw,
    origin: tuple[float, float],
    text: str,
    font: ImageFont.FreeTypeFont,
    fill: RGB,
) -> None:
    """Draw small caps with generous tracking, the way printed coffee labels do."""
    x, y = origin
    tracking = font.size * 0.22
    for character in text:
        draw.text((x, y), character, font=font, fill=fill, anchor="ls")
        x += draw.textlength(character, font=font) + tracking


def _bean(size: float, angle: float, body: RGB, crease: RGB) -> Image.Image:
    """One roasted bean on a transparent tile, rotated by ``angle`` degrees."""
    tile = Image.new("RGBA", (round(size * 1.6), round(size * 1.6)), (0, 0, 0, 0))
    draw = ImageDraw.Draw(tile)
    cx, cy = tile.size[0] / 2, tile.size[1] / 2
    rx, ry = size * 0.36, size * 0.50
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=body)
    # A soft highlight on one flank gives the bean its roundness.
    shine = Image.new("RGBA", tile.size, (0, 0, 0, 0))
    ImageDraw.Draw(shine).ellipse(
        (cx - rx * 0.75, cy - ry * 0.85, cx - rx * 0.05, cy + ry * 0.2), fill=(255, 196, 140, 40)
    )
    tile = Image.alpha_composite(tile, shine.filter(ImageFilter.GaussianBlur(size * 0.06)))
    draw = ImageDraw.Draw(tile)
    crease_points = [
        (cx + rx * 0.16 * math.sin(t / 12 * 2 * math.pi), cy - ry * 0.82 + ry * 1.64 * t / 12)
        for t in range(13)
    ]
    draw.line(crease_points, fill=crease, width=max(1, round(size * 0.07)), joint="curve")
    return tile.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)


def _points_strip(image: Image.Image, factor: int) -> None:
    w, h = image.size
    # Dark espresso on the left, where Wallet prints the balance in cream, warming
    # to a roasted brown under a soft light on the right.
    ramp = bytes(round(255 * (x / 255) ** 1.7) for x in range(256))
    horizontal = Image.frombytes("L", (256, 1), ramp).resize((w, h), Image.Resampling.BILINEAR)
    base = Image.composite(
        Image.new("RGB", (w, h), ROAST), Image.new("RGB", (w, h), ESPRESSO), horizontal
    )
    glow = Image.new("L", (w, h), 0)
    ImageDraw.Draw(glow).ellipse((w * 0.62, -h * 0.5, w * 1.2, h * 0.9), fill=110)
    glow = glow.filter(ImageFilter.GaussianBlur(h * 0.3))
    base = Image.composite(Image.new("RGB", (w, h), (160, 104, 64)), base, glow)
    canvas = base.convert("RGBA")

    rng = random.Random(2024)  # noqa: S311 - artwork layout, fixed seed for reproducibility
    # Beans gather on the right: Wallet prints the balance over the left half.
    beans = []
    for _ in range(40):
        u = 0.50 + 0.56 * rng.random() ** 0.7
        v = rng.uniform(-0.08, 1.08)
        size = rng.uniform(17, 25) * factor * (0.8 + 0.6 * (u - 0.5))
        tone = rng.uniform(-0.28, 0.06)
        beans.append((u, v, size, rng.uniform(0, 360), tone))
    beans.sort(key=lambda bean: bean[2])
    for u, v, size, angle, tone in beans:
        body = _shade(BEAN, tone)
        tile = _bean(size, angle, body, BEAN_DARK)
        shadow = Image.new("RGBA", tile.size, (20, 10, 5, 0))
        shadow.putalpha(tile.getchannel("A").point(lambda a: round(a * 0.6)))
        shadow = shadow.filter(ImageFilter.GaussianBlur(size * 0.07))
        x, y = round(u * w - tile.size[0] / 2), round(v * h - tile.size[1] / 2)
        _paste_clipped(canvas, shadow, x + round(size * 0.05), y + round(size * 0.09))
        _paste_clipped(canvas, tile, x, y)
    image.paste(canvas.convert("RGB"))


def _shade(colour: RGB, amount: float) -> RGB:
    """Lighten (positive) or darken (negative) a colour; roasts are never uniform."""
    target = 255 if amount > 0 else 0
    weight = abs(amount)
    return (
        round(colour[0] + (target - colour[0]) * weight),
        round(colour[1] + (target - colour[1]) * weight),
        round(colour[2] + (target - colour[2]) * weight),
    )


def _paste_clipped(canvas: Image.Image, tile: Image.Image, x: int, y: int) -> None:
    left, top = max(0, -x), max(0, -y)
    right = min(tile.size[0], canvas.size[0] - x)
    bottom = min(tile.size[1], canvas.size[1] - y)
    if right > left and bottom > top:
        canvas.alpha_composite(tile.crop((left, top, right, bottom)), (x + left, y + top))


def render_points_artwork() -> dict[str, bytes]:
    """Return Maison Caféine's icon, logo and strip PNGs keyed by file name."""
    files: dict[str, bytes] = {}
    for scale in SCALES:
        suffix = "" if scale == 1 else f"@{scale}x"
        files[f"icon{suffix}.png"] = _render(ICON_SIZE, scale, _points_icon)
        files[f"logo{suffix}.png"] = _render(LOGO_SIZE, scale, _points_logo)
        files[f"strip{suffix}.png"] = _render(STRIP_SIZE, scale, _points_strip, mode="RGB")
    return files


# -- Fournil du Coin ------------------------------------------------------------------------


def _wheat_badge(draw: ImageDraw.ImageDraw, cx: float, cy: float, radius: float) -> None:
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=CRUST)
    ring = radius * 0.86
    draw.ellipse(
        (cx - ring, cy - ring, cx + ring, cy + ring),
        outline=FLOUR,
        width=max(1, round(radius * 0.05)),
    )
    draw_wheat_ear(draw, cx, cy, radius * 0.62, FLOUR, CRUST)


def _stamps_icon(image: Image.Image, factor: int) -> None:
    draw = ImageDraw.Draw(image)
    w, h = image.size
    draw.rounded_rectangle((0, 0, w - 1, h - 1), radius=w * 0.22, fill=CRUST)
    draw_wheat_ear(draw, w / 2, h * 0.47, w * 0.36, FLOUR, CRUST)


def _stamps_logo(image: Image.Image, factor: int) -> None:
    draw = ImageDraw.Draw(image)
    h = image.size[1]
    radius = h * 0.40
    _wheat_badge(draw, radius + factor, h / 2, radius)
    title = _font(SERIF_BOLD, 15.5 * factor)
    subtitle = _font(SANS, 5.6 * factor)
    text_x = radius * 2 + 7 * factor
    draw.text((text_x, h * 0.50), "Fournil du Coin", font=title, fill=CRUST_DARK, anchor="ls")
    _spaced_text(
        draw, (text_x + 1 * factor, h * 0.74), "BOULANGERIE · DEPUIS 1987", subtitle, CRUST
    )


def render_stamps_artwork() -> dict[str, bytes]:
    """Return Fournil du Coin's icon, logo and preview strip PNGs keyed by file name."""
    files: dict[str, bytes] = {}
    for scale in SCALES:
        suffix = "" if scale == 1 else f"@{scale}x"
        files[f"icon{suffix}.png"] = _render(ICON_SIZE, scale, _stamps_icon)
        files[f"logo{suffix}.png"] = _render(LOGO_SIZE, scale, _stamps_logo)
        files[f"strip{suffix}.png"] = render_stamp_strip(0, 10, scale, style=StampStripStyle())
    return files


def main() -> None:
    """Write every template's artwork next to its ``template.json``."""
    for folder, files in (
        ("points", render_points_artwork()),
        ("stamps", render_stamps_artwork()),
    ):
        directory = ROOT / folder
        directory.mkdir(exist_ok=True)
        for name, data in files.items():
            (directory / name).write_bytes(data)
            print(f"wrote {directory / name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
