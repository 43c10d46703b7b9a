"""A shipped model's "Quality" section for its model card, from the table of ``python -m stylenet quality``.

    python scripts/card_quality.py logs/card/quality/quality.csv --candidate five-paintings \
        --command "python -m stylenet quality ..." --date 2026-12-06 --photos "4 BSDS500 validation photos" > quality.md
    python -m stylenet zoo build five-paintings --from-ckpt ... --card quality=@quality.md

One row per painting and size: the candidate's teacher-equivalent iterations (Johnson et al. 2016's protocol,
docs/quality.md), style vs photo, the style gap closed and the content loss; ``--compare`` adds other candidates
of the same table as rows, so a card can say what another choice would have given.
"""

from __future__ import annotations

import argparse
import csv
import sys


def section(rows: list[dict], candidates: list[str], command: str, date: str, photos: str, machine: str, loss: str) -> str:
    head = (f"Measured {date} on {machine} with the paper's protocol (docs/quality.md): the Gatys et al. teacher "
            f"(L-BFGS from noise, 200 iterations) on {loss}, {photos} the model never saw. "
            "Teacher-equivalent iterations: the first teacher iteration whose loss is at most the network's "
            "(median and range; Johnson et al. report 50-100 for their 40,000-step GPU networks). Style vs photo: "
            "the output's style loss over the photo's own (0 = all the way to the painting); content: the content "
            f"loss (lower keeps more of the photo).\n\n`{command}`\n")
    lines = ["| painting | size | candidate | teacher-equiv. iterations | style vs photo | gap closed | content |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["candidate"] not in candidates:
            continue
        lines.append(f"| {r['painting']} | {r['size']} px | {r['candidate']} | {float(r['equiv_median']):g} "
                     f"({float(r['equiv_min']):g}–{float(r['equiv_max']):g}) | {float(r['style_vs_photo']):.3g} | "
                     f"{float(r['gap_closed']):.0%} | {float(r['content']):.3g} |")
    if len(lines) == 2:
        raise SystemExit(f"no row of {candidates} in the table")
    return head + "\n" + "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", help="quality.csv written by python -m stylenet quality")
    ap.add_argument("--candidate", required=True)
    ap.add_argument("--compare", nargs="*", default=[], help="other candidates of the table to show beside it")
    ap.add_argument("--command", required=True, help="the quality command that made the table")
    ap.add_argument("--date", required=True)
    ap.add_argument("--photos", required=True, help="which held-out photos, in words")
    ap.add_argument("--machine", default="2 CPU cores, no GPU")
    ap.add_argument("--loss", default="the training loss of the shipped five-paintings network, per painting")
    a = ap.parse_args()
    with open(a.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    sys.stdout.write(section(rows, [a.candidate, *a.compare], a.command, a.date, a.photos, a.machine, a.loss))


if __name__ == "__main__":
    main()
