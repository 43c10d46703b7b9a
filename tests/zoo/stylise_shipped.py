"""Stylise one photo with every shipped model, as a user would, and write the PNGs: run by
tests/zoo/test_shipped.py against an installed wheel, and by hand to record the references after
`python -m stylenet zoo build` (then commit tests/fixtures/zoo_reference/):

    python tests/zoo/stylise_shipped.py tests/fixtures/zoo_reference

Prints where stylenet was imported from, so the test can check it was the installed copy.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

ASSETS = Path(__file__).resolve().parents[2] / "assets"
PHOTO, SIZE = ASSETS / "sample" / "chelsea.jpg", 96  # a CC0 photo, small enough for a quick check
PAINTING = ASSETS / "styles" / "udnie.jpg"  # a painting the decoder is given at run time


def main(out: Path) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)  # the same summation order on every machine, as far as torch allows
    from PIL import Image

    import stylenet
    from stylenet import Stylizer, open_stylizer, zoo

    print(stylenet.__file__)
    out.mkdir(parents=True, exist_ok=True)
    photo = Image.open(PHOTO)
    for style in zoo.MODELS["five-paintings"].styles:
        s = Stylizer.from_pretrained("five-paintings", style=style, device="cpu", backend="torch")
        s.stylize(photo, size=SIZE).save(out / f"five-paintings_{style}.png")
    s = open_stylizer("adain", style=str(PAINTING), device="cpu", transform="adain")
    s.stylize(photo, size=SIZE).save(out / "adain_udnie.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
