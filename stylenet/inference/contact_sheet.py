"""One photo in every style of a multi-style network, and in blends along the line between two of them,
in one image (Dumoulin et al. 2017, Fig. 7 shows such lines): ``infer.py --ckpt multi.ckpt --contact-sheet``."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from stylenet.data.images import pil_to_tensor, resize_long_side, side_by_side
from stylenet.inference.mix import MixError
from stylenet.inference.stylizer import Stylizer

DEFAULT_STEPS = 5  # blends on the line: 1, 0.75, 0.5, 0.25, 0 of the first style


def contact_sheet(stylizer: Stylizer, photo: Image.Image, line: Sequence[str] | None = None, steps: int = DEFAULT_STEPS,
                  size: int = 256) -> Image.Image:
    """Top row: the photo, then the photo in each style. Second row: ``steps`` blends from ``line[0]`` to
    ``line[1]`` (default: the first two styles). Panels are ``size`` px high. The stylizer's own style
    choice is restored afterwards."""
    names = stylizer.styles
    if len(names) < 2:
        raise MixError("a contact sheet shows the styles of a multi-style network; this network holds one style")
    a, b = line if line else names[:2]
    for name in (a, b):
        if name not in names:
            raise MixError(f"unknown style {name!r} for the contact sheet's line; this network holds {', '.join(names)}")
    if steps < 2:
        raise MixError(f"the contact sheet's line needs at least 2 steps, got {steps}")
    rgb = resize_long_side(photo.convert("RGB"), max(size, 1)) if max(photo.size) > size else photo.convert("RGB")
    before = stylizer.style
    try:
        top = [(rgb, "photo")]
        for name in names:
            stylizer.set_style(name)
            top.append((stylizer.stylize(rgb), name))
        line_panels = []
        for i in range(steps):
            t = 1 - i / (steps - 1)
            stylizer.set_style({a: t, b: 1 - t})
            line_panels.append((stylizer.stylize(rgb), f"{a} {t:.2g} / {b} {1 - t:.2g}"))
    finally:
        if before is not None:
            stylizer.set_style(before)
    rows = [side_by_side([pil_to_tensor(im) for im, _ in row], [label for _, label in row], height=size)
            for row in (top, line_panels)]
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows) + 8 * (len(rows) - 1)), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height + 8
    return sheet
