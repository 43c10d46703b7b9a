"""``infer.py --style painting.jpg --adapt SECONDS``: a multi-style network learns the painting as one more style
(its conditional-norm row, :mod:`stylenet.inference.adapt`), then stylises the inputs with it.

    python infer.py photo.jpg --style painting.jpg --adapt 60                       # the shipped five-paintings network
    python infer.py photos/ --style painting.jpg --adapt 60 --ckpt checkpoints/five/last.ckpt   # your own network

The learned row is cached by content (:mod:`stylenet.inference.adapt_cache`): the next photo with the same
painting starts at once. Without ``--adapt``, ``--style painting.jpg`` is the AdaIN decoder's, as before.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from stylenet import zoo
from stylenet.cli.entry import UsageError
from stylenet.cli.infer_jobs import plan_jobs
from stylenet.cli.infer_run import run_stylize, run_videos
from stylenet.inference.adapt import AdaptError, adapt_style, check_seconds, new_style_name, read_painting, shipped_photos
from stylenet.inference.adapt_cache import RowCache
from stylenet.inference.stroke_scale import training_side
from stylenet.inference.stylizer import Stylizer
from stylenet.networks.checkpoint import file_kind, load_file, load_network

MAX_OWN_PHOTOS = 8  # without assets/sample: the first input photos train the row


def check_adapt(args) -> None:
    """--adapt's value and the options it goes with, before anything is loaded."""
    try:
        args.adapt = check_seconds(args.adapt, "--adapt")
    except AdaptError as e:
        raise UsageError(str(e)) from None
    if args.mix is not None or not args.style or len(args.style) != 1:
        raise UsageError("--adapt learns one painting: give it as --style painting.jpg (one painting, no --mix)")
    if args.export or args.contact_sheet or args.list_styles:
        raise UsageError("--adapt stylises the inputs with the painting it learns; it does not go with --export, "
                         "--contact-sheet or --list-styles")
    if args.alpha is not None or args.transform is not None or args.style_size is not None or args.palette is not None:
        raise UsageError("--alpha, --transform, --palette and --style-size are the AdaIN decoder's; --adapt trains a network's style "
                         "(its strength is --strength)")
    painting = args.style[0]
    if not Path(painting).is_file():
        network = zoo.model(zoo.DEFAULT_NETWORK)
        if args.ckpt is None and painting in network.styles:
            raise UsageError(f"{painting} is already a style of the shipped network: drop --adapt (--style {painting})")
        raise UsageError(f"--adapt learns a painting, and {painting} is not a file; give --style path/to/painting.jpg")


def run_adapt(args, device: torch.device) -> int:
    ckpt = Path(args.ckpt) if args.ckpt is not None else zoo.folder(zoo.DEFAULT_NETWORK)
    if file_kind(load_file(ckpt)) == "universal":
        raise UsageError(f"{ckpt} holds universal decoders, which take any painting as it is: drop --adapt")
    net, meta = load_network(ckpt)
    names = [s["name"] for s in meta.get("styles") or []]
    if not names:
        raise UsageError(f"--adapt adds a style to a multi-style network (trained with styles=[a,b,...]); {ckpt} holds one "
                         "style. Drop --ckpt to use the shipped five-paintings network")
    if args.stroke_scale == "auto" and training_side(meta) is None:  # asked for; the default falls back to 1
        raise UsageError(f"--stroke-scale auto needs the training image size, which {ckpt} does not record; give a number")
    painting = args.style[0]
    read_painting(painting)  # a painting that cannot be used: one line before anything is printed
    jobs, failures, out = plan_jobs(args, new_style_name(painting, names))  # outputs checked before the minute of work
    if args.threads:
        torch.set_num_threads(args.threads)
    say = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    photos = None
    if not shipped_photos():  # an installation without assets/sample: the photos to stylise are the training photos
        photos = [j.src for j in jobs if not j.film][:MAX_OWN_PHOTOS]
        if not photos:
            raise UsageError("--adapt trains on the photos of assets/sample, which this installation lacks, or on the "
                             "input photos: give at least one photo (not only videos)")
        say(f"note: assets/sample is not installed; training on {len(photos)} of the input photos")
    say(f"{painting}: a new style of {ckpt.name} ({len(names)} styles), learned in up to {args.adapt:g} s unless "
        f"the cache ({RowCache().folder}) has it")
    shown = [0.0]

    def progress(step: int, seconds: float, loss: float) -> None:
        if seconds - shown[0] >= 10:
            shown[0] = seconds
            say(f"  {seconds:4.0f} s: step {step}, loss {loss:.3f}")

    try:
        adapted = adapt_style(net, meta, painting, seconds=args.adapt, photos=photos, device=device, progress=progress)
    except AdaptError as e:
        raise UsageError(str(e)) from None
    if adapted.cached:
        say(f"{adapted.style}: read from the cache {adapted.path} ({adapted.seconds:.2f} s, no training)")
    else:
        say(f"{adapted.style}: learned in {adapted.steps} steps, {adapted.seconds:.1f} s (started from {adapted.init}; "
            f"loss {adapted.loss:.3f})")
    stylizer = Stylizer(adapted.net, adapted.meta, device=device, half=args.half, backend=args.backend, threads=args.threads,
                        style=adapted.style)
    run_videos(args, stylizer, [j for j in jobs if j.film], failures)
    return run_stylize(args, stylizer, [j for j in jobs if not j.film], failures, str(out))
