"""The README's picture: a shipped photo, then that photo in three styles of the shipped network (five-paintings).

    python scripts/readme_picture.py

Writes docs/images/readme.jpg: photo | wave | the_scream | udnie, each --height px tall (320), captioned below.
Each style is what `python infer.py PHOTO --style NAME --size N` writes (the same shipped network, no checkpoint,
no download), N being the long side that makes the photo --height px tall.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stylenet import Stylizer
from stylenet.data.images import open_image, pil_to_tensor, side_by_side

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photo", default=str(ROOT / "assets" / "sample" / "rocket.jpg"))  # the photo five-paintings held out
    ap.add_argument("--styles", nargs="+", default=["wave", "the_scream", "udnie"])
    ap.add_argument("--height", type=int, default=320)
    ap.add_argument("--quality", type=int, default=85)
    ap.add_argument("--out", default=str(ROOT / "docs" / "images" / "readme.jpg"))
    a = ap.parse_args()

    photo = open_image(a.photo)
    long_side = round(max(photo.size) * a.height / photo.height)  # the long side that makes it --height px tall
    shown = photo.resize((round(photo.width * a.height / photo.height), a.height))
    panels, labels = [pil_to_tensor(shown)], [f"photo ({Path(a.photo).name})"]
    for style in a.styles:
        stylizer = Stylizer.from_pretrained("five-paintings", style=style, device="cpu")
        panels.append(pil_to_tensor(stylizer(photo, size=long_side)))
        labels.append(f"--style {style}")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    side_by_side(panels, labels, height=a.height).save(out, quality=a.quality, optimize=True)
    print(f"{out}: {out.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
