"""A new painting in a minute: a trained multi-style network learns one more style, its conditional-norm row
alone (Dumoulin, Shlens & Kudlur 2017, §4), within a time budget.

    from stylenet.inference.adapt import adapt_style
    from stylenet.networks.checkpoint import load_network
    net, meta = load_network(zoo.folder("five-paintings"))
    new = adapt_style(net, meta, "painting.jpg", seconds=60)       # new.net holds six styles, new.style names the sixth
    Stylizer(new.net, new.meta, style=new.style)(Image.open("photo.jpg"))

Every conditional instance norm gets one more scale and shift row; the shared convolutions and the old rows
stay bit for bit as they were (their gradients are zeroed, so Adam never moves them). The row is trained with
the perceptual loss the network was trained with (its file's ``loss``: layers, weights, the VGG) against the
painting at the size the network's styles were trained at, on random crops (the network's training crop size,
from photos resized to that short side, as training draws them) of the photos shipped in ``assets/sample``
plus any ``photos`` given, with Adam at ``lr`` (1e-2, the ``experiment=add_style`` recipe's), until
``seconds`` of wall clock (loading included) or ``steps``. The same seed and number of steps give the same row.

The start (``init``): ``"mean"`` (the default) starts from the mean of the old rows, as ``experiment=add_style``
does; ``"auto"`` tries every old row and their mean on the first batch of crops and starts from whichever paints
closest to the painting (lowest loss). Measured on the five shipped paintings (docs/multistyle.md), ``auto``
picked the mean four times of five and was never better after 60 s: its trial passes cost steps.
``init_from`` restricts both to some of the old styles.

The learned row is cached by content (:mod:`stylenet.inference.adapt_cache`): the same painting again is
read back at once, with no optimisation.
"""

from __future__ import annotations

import copy
import io
import math
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from stylenet.data.images import IMAGE_EXTENSIONS, ImageError, open_image, pil_to_tensor, resize_long_side
from stylenet.errors import StylenetError
from stylenet.files import ROOT, not_a_regular_file
from stylenet.inference.adapt_cache import Row, RowCache, bytes_digest, cache_key, files_digest, weights_digest
from stylenet.networks.meta import CheckpointError, CheckpointMeta
from stylenet.networks.transformer import ConditionalInstanceNorm2d, TransformerNet, set_mix
from stylenet.perceptual.loss import build_perceptual_loss, one_style_loss
from stylenet.runtime import resolve_device

DEFAULT_SECONDS = 60.0
MAX_SECONDS = 600.0  # ten minutes: past that, train a style properly (experiment=add_style)
MAX_STEPS = 100_000
DEFAULT_LR = 1e-2  # experiment=add_style's: at 1e-3 new rows barely move in 200 steps (docs/multistyle.md)
DEFAULT_BATCH = 4
INITS = ("auto", "mean")
PHOTOS = ROOT / "assets" / "sample"
MAX_PAINTING_BYTES = 1 << 30
ROW_FORMAT = 1  # part of the key: a change to how rows are learned invalidates old ones

Progress = Callable[[int, float, float], None]  # (steps done, seconds since the start, the last step's loss)


class AdaptError(StylenetError, ValueError):
    """A request :func:`adapt_style` cannot serve; the message says what would work."""


@dataclass
class Adapted:
    """What :func:`adapt_style` gives back: the network with the new row and its metadata (``style`` is the new
    style's name), the steps taken and the wall clock spent (0 steps when ``cached``), the style the row started
    from (a name or ``"mean"``), the last step's loss and the cache file."""

    net: TransformerNet
    meta: dict
    style: str
    steps: int
    seconds: float
    cached: bool
    init: str
    loss: float | None
    path: Path | None


def check_seconds(seconds, what: str = "seconds") -> float:
    """A time budget in (0, :data:`MAX_SECONDS`]; one :class:`AdaptError` line otherwise."""
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        s = math.nan
    if not (math.isfinite(s) and 0 < s <= MAX_SECONDS):
        raise AdaptError(f"{what} must be a number of seconds above 0 and at most {MAX_SECONDS:g}, got {seconds!r}")
    return s


def shipped_photos() -> list[Path]:
    return sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS) if PHOTOS.is_dir() else []


def painting_size(meta: dict) -> int:
    """The long side the network's paintings were trained at (the most common among its styles)."""
    sizes = [int(s["size"]) for s in meta.get("styles") or [] if s.get("size")]
    if sizes:
        return Counter(sizes).most_common(1)[0][0]
    return int((meta.get("style") or {}).get("size") or 2 * crop_size(meta))


def crop_size(meta: dict) -> int:
    return int((meta.get("train") or {}).get("image_size") or 256)


def new_style_name(painting: str | os.PathLike, taken: Sequence[str]) -> str:
    """The painting's file name, made safe for output names and distinct from the network's styles."""
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(painting).stem).strip("._") or "painting"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def conditional_norms(net: nn.Module) -> dict[str, ConditionalInstanceNorm2d]:
    return {n: m for n, m in net.named_modules() if isinstance(m, ConditionalInstanceNorm2d)}


def with_new_row(net: TransformerNet, row: Row) -> TransformerNet:
    """A copy of ``net`` with one more style, whose row is ``row``; every other tensor copied exactly."""
    config = {**net.config, "num_styles": net.num_styles + 1}
    new = TransformerNet(**config)
    old = net.state_dict()
    s = net.num_styles
    with torch.no_grad():
        for key, value in new.state_dict().items():
            module, _, kind = key.rpartition(".")
            if module in row and kind in ("scale", "shift"):
                value[:s] = old[key]
                value[s] = row[module][0 if kind == "scale" else 1]
            else:
                value.copy_(old[key])
    return new.eval()


def read_painting(painting: str | os.PathLike) -> tuple[bytes, Image.Image]:
    """The painting file's bytes (read once: what is hashed is what is used) and its RGB image. Whatever makes a
    file unusable (missing, not a regular file, over the pixel limit, corrupt, truncated) is one
    :class:`~stylenet.data.images.ImageError` line; grey, palette, 16-bit and alpha images come out RGB."""
    why = not_a_regular_file(painting)
    if why:
        raise ImageError(f"{painting}: {why}")
    if os.path.getsize(painting) > MAX_PAINTING_BYTES:
        raise ImageError(f"{painting}: over {MAX_PAINTING_BYTES >> 20} MiB; downscale it first")
    data = Path(painting).read_bytes()
    stream = io.BytesIO(data)
    stream.name = str(painting)
    return data, open_image(stream)


def _photo(path: Path, side: int) -> torch.Tensor:
    """A photo with its short side at ``side`` (3×H×W): the crops training draws."""
    img = open_image(path)
    scale = side / min(img.size)
    w, h = max(side, round(img.width * scale)), max(side, round(img.height * scale))
    return pil_to_tensor(img if (w, h) == img.size else img.resize((w, h), Image.Resampling.LANCZOS))


def _crops(photos: list[torch.Tensor], side: int, n: int, g: torch.Generator) -> torch.Tensor:
    out = []
    for _ in range(n):
        p = photos[int(torch.randint(len(photos), (1,), generator=g))]
        top = int(torch.randint(p.shape[1] - side + 1, (1,), generator=g))
        left = int(torch.randint(p.shape[2] - side + 1, (1,), generator=g))
        out.append(p[:, top:top + side, left:left + side])
    return torch.stack(out)


def _min_side(encoder: nn.Module) -> int:
    return 2 ** sum(isinstance(m, nn.MaxPool2d) for m in encoder.modules())


def adapt_style(
    net: TransformerNet,
    meta: dict,
    painting: str | os.PathLike,
    *,
    seconds: float | None = DEFAULT_SECONDS,
    steps: int | None = None,
    photos: Sequence[str | os.PathLike] | None = None,
    seed: int = 0,
    lr: float = DEFAULT_LR,
    batch_size: int = DEFAULT_BATCH,
    init: str = "mean",
    init_from: Sequence[str] | None = None,
    name: str | None = None,
    cache: bool = True,
    cache_folder: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
) -> Adapted:
    """Teach the multi-style ``net`` (with its file's ``meta``) the painting at ``painting`` as one more style
    (module docstring). ``seconds``: the wall-clock budget (None: ``steps`` alone); ``steps``: a cap on the
    steps; ``photos``: photos to crop besides the shipped ones; ``name``: the new style's (default the file's
    name). ``net`` and ``meta`` are not modified. Every problem is one :class:`StylenetError` line."""
    t0 = time.perf_counter()
    if seconds is not None:
        seconds = check_seconds(seconds)
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS):
        raise AdaptError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}")
    if seconds is None and steps is None:
        raise AdaptError("give a time budget (seconds) or a number of steps")
    if init not in INITS:
        raise AdaptError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0) or not (isinstance(batch_size, int) and batch_size >= 1):
        raise AdaptError(f"lr must be a positive number and batch_size a whole number >= 1, got {lr!r} and {batch_size!r}")
    try:
        names = CheckpointMeta.from_dict(meta, "the network's metadata").style_names
    except CheckpointError as e:
        raise AdaptError(str(e)) from None
    if not names or not isinstance(net, TransformerNet) or net.num_styles != len(names):
        raise AdaptError("adapting to a new painting needs a multi-style network (conditional instance norm, trained with "
                         "styles=[a,b,...]), such as the shipped five-paintings; this one holds one style")
    if not meta.get("loss"):
        raise AdaptError("the network's file does not record the loss it was trained with (a converted network?): "
                         "there is nothing to train the new style's row with")
    sources = [names.index(n) if n in names else None for n in (init_from or names)]
    if None in sources or not sources:
        raise AdaptError(f"init_from names styles of the network ({', '.join(names)}), got {list(init_from or [])}")
    name = name or new_style_name(painting, names)
    if name in names:
        raise AdaptError(f"the network already holds a style called {name!r}; give the new style another name")
    if isinstance(photos, (str, os.PathLike)):
        photos = [photos]
    photo_paths = shipped_photos() + [Path(p) for p in photos or []]
    for p in photo_paths:
        if why := not_a_regular_file(p):
            raise ImageError(f"{p}: {why}")
    if not photo_paths:
        raise AdaptError(f"no photos to train on: {PHOTOS} is empty and none were given")

    data, picture = read_painting(painting)  # a painting that cannot be used: one line, cached or not
    size, side = painting_size(meta), crop_size(meta)
    loss_cfg = one_style_loss(meta["loss"], {})
    key = cache_key({
        "format": ROW_FORMAT, "painting": bytes_digest(data), "network": weights_digest(net), "loss": loss_cfg,
        "photos": files_digest(photo_paths), "seconds": seconds, "steps": steps, "seed": int(seed), "lr": float(lr),
        "batch_size": batch_size, "init": init, "init_from": [names[i] for i in sources], "size": size, "crop": side,
    })
    norms = conditional_norms(net)
    rows = RowCache(cache_folder) if cache else None
    entry = {"name": name, "image": str(painting), "size": size}
    if rows is not None and (hit := rows.get(key, {n: m.num_features for n, m in norms.items()})) is not None:
        row, info = hit
        done = {"steps": _number(info.get("steps"), int), "seconds": _number(info.get("seconds"), float), "seed": int(seed),
                "init": str(info.get("init", ""))}
        return Adapted(with_new_row(net, row), _new_meta(meta, {**entry, "adapted": done}), name, 0, time.perf_counter() - t0,
                       True, done["init"], None, rows.path(key))

    device = resolve_device(device)
    with torch.random.fork_rng(devices=[]):  # the seed decides everything; the caller's random state is left alone
        torch.manual_seed(seed)
        loss = build_perceptual_loss(**loss_cfg).to(device).eval()
        target = pil_to_tensor(resize_long_side(picture, size)).unsqueeze(0)
        need = _min_side(loss.encoder)
        if min(target.shape[-2:]) < need:  # a thin painting: tiled, its statistics are the same
            target = target.repeat(1, 1, math.ceil(need / target.shape[-2]), math.ceil(need / target.shape[-1]))
        loss.set_style(target.to(device))
        pictures = [_photo(p, side) for p in photo_paths]
        g = torch.Generator().manual_seed(seed)
        first = _crops(pictures, side, batch_size, g).to(device)
        start, init_name = _start(net, norms, sources, names, init, loss, first)
        new = with_new_row(net, start).to(device)
        result = _train(new, loss, first, lambda: _crops(pictures, side, batch_size, g).to(device), t0, seconds, steps,
                        lr, progress)
    new = new.cpu().eval()
    n_steps, last = result
    elapsed = time.perf_counter() - t0
    learned = {n: (m.scale[-1].detach().clone(), m.shift[-1].detach().clone()) for n, m in conditional_norms(new).items()}
    info = {"steps": n_steps, "seconds": round(elapsed, 2), "seed": int(seed), "init": init_name}
    path = rows.put(key, learned, {**info, "painting": Path(painting).name}) if rows is not None else None
    return Adapted(new, _new_meta(meta, {**entry, "adapted": info}), name, n_steps, elapsed, False, init_name, last, path)


def _number(text, kind):
    try:
        return kind(text)
    except (TypeError, ValueError):
        return None


def _new_meta(meta: dict, entry: dict) -> dict:
    out = copy.deepcopy(dict(meta))
    out["arch"] = {**out["arch"], "num_styles": len(out["styles"]) + 1}
    out["styles"] = [*out["styles"], entry]
    out["style"] = {**(out.get("style") or {}), "name": "+".join(s["name"] for s in out["styles"])}
    return out


@torch.no_grad()
def _start(net, norms, sources, names, init, loss, batch) -> tuple[Row, str]:
    """The row to start from: the mean of the ``sources`` rows, or (``auto``) whichever of them and their mean
    has the lowest loss on ``batch``."""
    mean = {n: (m.scale[sources].mean(0), m.shift[sources].mean(0)) for n, m in norms.items()}
    candidates = [("mean", mean)]
    if init == "auto":
        candidates += [(names[i], {n: (m.scale[i], m.shift[i]) for n, m in norms.items()}) for i in sources]
    if len(candidates) == 1:
        return mean, "mean"
    probe = copy.deepcopy(net).float().to(batch.device).eval()
    scores = []
    for label, row in candidates:
        set_mix(probe, None)
        for n, m in conditional_norms(probe).items():
            m.scale[0], m.shift[0] = row[n]
        set_mix(probe, torch.eye(net.num_styles, device=batch.device)[0])
        scores.append(float(loss(probe(batch), batch)["total"]))
    best = min(range(len(candidates)), key=scores.__getitem__)
    return candidates[best][1], candidates[best][0]


def _train(new, loss, first, draw, t0, seconds, steps, lr, progress) -> tuple[int, float | None]:
    """Adam on the last row of every conditional norm until the budget or the step cap; returns (steps, last loss)."""
    s = new.num_styles - 1
    norms = list(conditional_norms(new).values())
    for p in new.parameters():
        p.requires_grad_(False)
    params = [p for m in norms for p in (m.scale, m.shift)]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=lr)
    set_mix(new, torch.eye(s + 1, device=first.device)[s])
    cap = steps if steps is not None else MAX_STEPS
    done, last, step_time, batch = 0, None, 0.0, first
    while done < cap:
        now = time.perf_counter()
        if seconds is not None and done > 0 and now - t0 + step_time > seconds:
            break
        total = loss(new(batch), batch)["total"]
        opt.zero_grad(set_to_none=True)
        total.backward()
        for p in params:  # only the new row learns: the old rows' gradients are zero, so Adam leaves them exactly
            p.grad[:s] = 0
        opt.step()
        done += 1
        last = float(total.detach())
        step_time = time.perf_counter() - now
        if progress is not None:
            progress(done, time.perf_counter() - t0, last)
        if done < cap:
            batch = draw()
    for p in params:
        p.requires_grad_(False)
    set_mix(new, None)
    return done, last
