"""Placeholder images for a trial PKI: a handwritten-looking signature (blue on transparent) and a round seal
(red on transparent, its real size at 300 dpi) with the body's name around the ring and a star inside.
Production uses the scanned signature and the seal's own image."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from letters.fonts import faces

BLUE = (20, 40, 170, 255)
RED = (210, 20, 30, 255)
DPI = 300


def signature_image(name: str, out: Path) -> Path:
    """A scribble of its own for each name (the same name, the same scribble), 600×300 px."""
    seed = hashlib.sha256(name.encode("utf-8")).digest()
    image = Image.new("RGBA", (600, 300), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    points = []
    for i in range(48):
        t = i / 47
        wobble = (seed[i % len(seed)] / 255 - 0.5) * 90
        x = 40 + t * 520
        y = 150 + math.sin(t * math.pi * (3 + seed[0] % 3)) * 70 + wobble * (0.5 - abs(t - 0.5))
        points.append((x, y))
    draw.line(points, fill=BLUE, width=7, joint="curve")
    draw.line([(90, 230), (520, 200)], fill=BLUE, width=5)
    surname = name.split()[-1] if name.split() else name
    font = ImageFont.truetype(str(faces()["italic"].path), 46)
    draw.text((330, 40), surname, font=font, fill=BLUE)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    return out


def seal_image(body: str, place: str, out: Path, diameter_mm: float = 36.0) -> Path:
    """A round seal: two rings, the body's name around the top, the place around the bottom, a star."""
    size = round(diameter_mm / 25.4 * DPI)
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    centre = size / 2
    draw.ellipse([3, 3, size - 4, size - 4], outline=RED, width=9)
    inner = size * 0.30
    draw.ellipse([centre - inner, centre - inner, centre + inner, centre + inner], outline=RED, width=4)
    star = [
        (
            centre + (inner * 0.8 if k % 2 == 0 else inner * 0.33) * math.sin(k * math.pi / 5),
            centre - (inner * 0.8 if k % 2 == 0 else inner * 0.33) * math.cos(k * math.pi / 5),
        )
        for k in range(10)
    ]
    draw.polygon(star, fill=RED)
    font = ImageFont.truetype(str(faces()["bold"].path), max(18, size // 16))
    _around(image, body.upper(), font, radius=size * 0.39, start=-150, end=150)
    _around(image, place.upper(), font, radius=size * 0.39, start=150, end=210, upright=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out, dpi=(DPI, DPI))
    return out


def _around(
    image: Image.Image,
    text: str,
    font: ImageFont.FreeTypeFont,
    *,
    radius: float,
    start: float,
    end: float,
    upright: bool = False,
) -> None:
    """Text set along the ring from start to end degrees (0 at the top, clockwise); upright: the bottom arc,
    letters read left to right with their feet on the ring."""
    if not text:
        return
    centre = image.width / 2
    step = (end - start) / max(len(text), 1)
    angles = [start + step * (i + 0.5) for i in range(len(text))]
    if upright:
        angles = list(reversed(angles))
    for ch, angle in zip(text, angles, strict=True):
        side = round(font.size * 2)
        box = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        ImageDraw.Draw(box).text((side / 2, side / 2), ch, font=font, fill=RED, anchor="mm")
        turned = box.rotate(-angle + (180 if upright else 0), resample=Image.Resampling.BICUBIC)
        x = centre + radius * math.sin(math.radians(angle)) - turned.width / 2
        y = centre - radius * math.cos(math.radians(angle)) - turned.height / 2
        image.alpha_composite(turned, (round(x), round(y)))
