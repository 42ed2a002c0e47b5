"""Draw the app store images (addon/icon.png, addon/logo.png): a shield with an eye.

Run once after changing the design: ``.venv/bin/python scripts/app_images.py``.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ADDON = Path(__file__).resolve().parent.parent / "addon"
NAVY = (22, 42, 74, 255)
TEAL = (38, 166, 154, 255)
WHITE = (255, 255, 255, 255)


def shield(size: int) -> Image.Image:
    """The mark, drawn 4x larger and scaled down for smooth edges."""
    s = size * 4
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    top, mid, bottom = s * 0.06, s * 0.55, s * 0.96
    outline = [(s * 0.5, top), (s * 0.9, s * 0.18), (s * 0.88, mid), (s * 0.5, bottom),
               (s * 0.12, mid), (s * 0.1, s * 0.18)]
    d.polygon(outline, fill=NAVY)
    cx, cy, w, h = s * 0.5, s * 0.47, s * 0.3, s * 0.16
    d.ellipse((cx - w, cy - h, cx + w, cy + h), fill=WHITE)
    r = s * 0.12
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=TEAL)
    r2 = s * 0.05
    d.ellipse((cx - r2, cy - r2, cx + r2, cy + r2), fill=NAVY)
    return img.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    shield(128).save(ADDON / "icon.png", optimize=True)
    logo = Image.new("RGBA", (250, 100), (0, 0, 0, 0))
    logo.alpha_composite(shield(90), (6, 5))
    d = ImageDraw.Draw(logo)
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.truetype(
            "DejaVuSans-Bold.ttf", 52)
    except OSError:
        font = ImageFont.load_default(52)
    d.text((104, 50), "Vigil", font=font, fill=NAVY, anchor="lm")
    logo.save(ADDON / "logo.png", optimize=True)


if __name__ == "__main__":
    main()
