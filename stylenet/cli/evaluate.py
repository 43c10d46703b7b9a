"""``python -m stylenet evaluate``: score a trained network against the Gatys teacher (conf/evaluate.yaml).

    python -m stylenet evaluate ckpt=checkpoints/wave/last.ckpt photos=DIR [iterations=200] [size=256] [out=DIR]
    python -m stylenet evaluate ckpt=checkpoints/universal/last.ckpt transform=wct loss_from=checkpoints/wave/last.ckpt photos=DIR
    python -m stylenet evaluate outputs=peer_outputs/ loss_from=checkpoints/wave/last.ckpt photos=DIR

Universal decoders (docs/universal.md) and another tool's outputs are scored with the loss, painting, style
size and image size of ``loss_from=`` (a trained network's checkpoint), so every candidate is scored the
same way; the teacher's curves are cached (:mod:`stylenet.teacher.cache`) so it runs once for them all.

Per photo: the network's loss, the teacher iteration that matches it from each start, the times; then
scores.csv, summary.md, a curve CSV per start and a figure (:mod:`stylenet.teacher.report`).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from omegaconf import OmegaConf

from stylenet.cli.entry import hydra_command
from stylenet.config import user_path
from stylenet.data.images import IMAGE_EXTENSIONS, ImageError, atomic_save_image, load_image, resize_tensor, side_by_side
from stylenet.data.listing import list_photos
from stylenet.errors import StylenetError
from stylenet.files import atomic_write_text, check_writable_dir, file_digest
from stylenet.inference.backends import RUNTIMES
from stylenet.inference.mix import meta_for_style, mix_vector
from stylenet.inference.stroke_scale import check_stroke_scale
from stylenet.inference.stylizer import Stylizer
from stylenet.inference.universal_onnx import use_backend
from stylenet.networks.checkpoint import META_KEY, file_kind, load_file, load_network, read_checkpoint
from stylenet.networks.transformer import set_mix
from stylenet.runtime import resolve_device
from stylenet.teacher.cache import TeacherCache, clock_parts, module_digest
from stylenet.teacher.evaluate import MAX_SCORING_SIDE, painting_scale, score_photo_starts, training_loss, warm_up
from stylenet.teacher.gatys import OPTIMIZERS, TeacherDiverged
from stylenet.teacher.report import scores_csv, summary_markdown
from stylenet.teacher.scores import START_NAMES, PhotoScore, curve_csv, format_equiv
from stylenet.universal.checkpoint import UniversalMeta
from stylenet.universal.stylizer import UniversalStylizer, check_palette, default_transform
from stylenet.universal.transforms import TRANSFORMS


def _loss_overrides(cfg) -> dict[str, Any]:
    node = cfg.get("loss")
    if not node:
        return {}
    present = [k for k in node if not OmegaConf.is_missing(node, k)]  # a loss group may leave a key ??? (weights)
    return {k: _plain(node[k]) for k in present}


def _plain(v: Any) -> Any:
    return OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v


@dataclass
class Candidate:
    """What is scored: a trained network, universal decoders with a painting, or another tool's outputs."""

    label: str  # the default output folder's name
    describe: str  # the summary's "Checkpoint `...`"
    caption: str  # the figure's panel
    loss_meta: dict  # whose loss, style size and image size score it
    global_step: int | None = None
    build: Callable[[torch.Tensor, torch.device], torch.nn.Module | None] = lambda style, device: None
    outputs: Path | None = None
    _index: dict[str, Path] = field(default_factory=dict)

    def output_for(self, photo_path: Path, photo: torch.Tensor) -> torch.Tensor:
        """The other tool's image for this photo (same stem, any image extension), at the photo's size."""
        if not self._index:
            self._index = {p.stem: p for p in sorted(self.outputs.iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS}
        found = self._index.get(photo_path.stem)
        if found is None:
            raise ImageError(f"no stylised image named {photo_path.stem}.* in outputs={self.outputs}")
        return resize_tensor(load_image(found), tuple(photo.shape[-2:])).to(photo.device)


class _UniversalNet(torch.nn.Module):
    """A universal stylizer with its painting, as a network evaluation can time and run."""

    def __init__(self, stylizer, styles, alpha: float, transform: str, palette: str | None = None):
        super().__init__()
        self.stylizer, self.styles, self.alpha, self.transform, self.palette = stylizer, styles, alpha, transform, palette

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stylizer.stylize_tensor(x, self.styles, alpha=self.alpha, transform=self.transform, palette=self.palette)


class _StylizerNet(torch.nn.Module):
    """A trained network through :class:`Stylizer` with a stroke scale, as a network evaluation can time and run."""

    def __init__(self, stylizer: Stylizer, stroke_scale):
        super().__init__()
        self.stylizer, self.stroke_scale = stylizer, stroke_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stylizer.stylize_tensor(x, stroke_scale=self.stroke_scale, tile=None)


def candidate(cfg) -> Candidate:
    """The candidate of ``cfg`` and the metadata whose loss scores it (``loss_from=`` first)."""
    loss_meta = None
    if cfg.get("loss_from"):  # a multi-style loss_from scores with one of its styles' loss (loss_style, else style_name)
        loss_meta = meta_for_style(read_checkpoint(user_path(cfg.loss_from))[META_KEY],
                                   cfg.get("loss_style") or cfg.get("style_name"), f"loss_from={cfg.loss_from}")
    if cfg.get("outputs"):
        folder = user_path(cfg.outputs)
        if not folder.is_dir():
            raise StylenetError(f"outputs={folder} is not a folder of stylised images")
        return Candidate(label=f"outputs_{folder.name}", describe=f"outputs={folder}", caption="outputs",
                         loss_meta=loss_meta or {}, outputs=folder)
    ckpt = user_path(cfg.ckpt)
    stroke_scale = check_stroke_scale(cfg.get("stroke_scale", 1.0), "stroke_scale")
    backend = str(cfg.get("backend") or "torch")
    if backend not in RUNTIMES:
        raise StylenetError(f"backend={backend} is not one of {', '.join(RUNTIMES)} (a score names what ran it)")
    ckpt_dict = load_file(ckpt)
    if file_kind(ckpt_dict) != "universal":
        net, full_meta = load_network(ckpt)
        meta = full_meta
        label, names = f"{ckpt.parent.name}_{ckpt.stem}", [s["name"] for s in meta.get("styles") or []]
        if names:  # a multi-style network, scored in one of its styles with that style's training loss
            meta = meta_for_style(meta, cfg.get("style_name"), str(ckpt))
            set_mix(net, mix_vector(str(cfg.style_name), names))
            label = f"{label}_{cfg.style_name}"
        elif cfg.get("style_name") and not loss_meta:
            raise StylenetError(f"style_name= chooses a style of a multi-style network; {ckpt} holds one "
                                f"({(meta.get('style') or {}).get('name')})")
        describe = str(ckpt) + (f" (style {cfg.style_name})" if names else "")

        def build(style: torch.Tensor, device: torch.device) -> torch.nn.Module:
            if stroke_scale == 1.0 and backend == "torch":
                return net.to(device)
            # What infer.py --stroke-scale/--backend gives: the network on the working image, guided back to full size.
            stylizer = Stylizer(net, full_meta, device=device, backend=backend, style=str(cfg.style_name) if names else None)
            return _StylizerNet(stylizer, stroke_scale)

        if stroke_scale != 1.0:
            label, describe = f"{label}_stroke{stroke_scale}", f"{describe}, stroke scale {stroke_scale}"
        if backend != "torch":
            label, describe = f"{label}_{backend}", f"{describe}, {backend}"
        return Candidate(label=label, describe=describe, caption="network", loss_meta=loss_meta or meta,
                         global_step=(meta.get("train") or {}).get("global_step"), build=build)
    if stroke_scale != 1.0:
        raise StylenetError("stroke_scale= applies to trained networks; universal decoders take the painting's size instead")
    levels = UniversalMeta.from_dict(ckpt_dict[META_KEY], str(ckpt)).levels
    transform, alpha = str(cfg.transform) if cfg.get("transform") else default_transform(levels), float(cfg.alpha)
    if transform not in TRANSFORMS or not 0.0 <= alpha <= 1.0:
        raise StylenetError(f"transform={transform} alpha={alpha:g}: transform is one of {', '.join(TRANSFORMS)}, alpha between 0 and 1")
    palette = check_palette(cfg.get("palette"))

    def build(style: torch.Tensor, device: torch.device) -> torch.nn.Module:
        stylizer = use_backend(UniversalStylizer.from_checkpoint(ckpt, device=device), backend)
        return _UniversalNet(stylizer, stylizer.prepare_styles(style), alpha, transform, palette)

    tag = (f"_palette_{palette}" if palette else "") + (f"_{backend}" if backend != "torch" else "")
    return Candidate(label=f"{ckpt.parent.name}_{ckpt.stem}_{transform}{tag}",
                     describe=f"{ckpt} ({transform}, alpha {alpha:g}" + (f", palette {palette}" if palette else "")
                              + (f", {backend})" if backend != "torch" else ")"),
                     caption=transform, loss_meta=loss_meta or {}, build=build)


@dataclass
class Evaluation:
    """One candidate scored on the photos: each photo's scores (one per start), the failures, the summary's
    facts and where the files went."""

    scores: list[list[PhotoScore]]
    failures: list[tuple[str, str]]
    info: dict[str, Any]
    out_dir: Path


def run(cfg) -> int:
    """The command behind ``python -m stylenet evaluate``; returns the exit code (1 if any photo failed)."""
    result = evaluate(cfg)
    print(f"wrote {result.out_dir}/summary.md ({len(result.scores)} scored, {len(result.failures)} failed)")
    return 1 if result.failures else 0


def evaluate(cfg) -> Evaluation:
    """Score the candidate of ``cfg`` (conf/evaluate.yaml) on its photos; writes the files and returns the scores."""
    # ---- everything that can stop the whole run is checked before any photo is touched ----
    has_ckpt = not OmegaConf.is_missing(cfg, "ckpt") and bool(cfg.ckpt)
    if not has_ckpt and not cfg.get("outputs"):
        raise StylenetError("give the network: python -m stylenet evaluate ckpt=path/to/last.ckpt photos=DIR "
                            "(or outputs=DIR: images stylised by another tool)")
    if has_ckpt and cfg.get("outputs"):
        raise StylenetError("give ckpt= (a network to run) or outputs= (images already stylised), not both")
    if OmegaConf.is_missing(cfg, "photos") or not cfg.photos:
        raise StylenetError("give the photos: photos=DIR (or a file, or [a.jpg,b.jpg])")
    if cfg.optimizer not in OPTIMIZERS:
        raise StylenetError(f"optimizer={cfg.optimizer} is not one of {', '.join(OPTIMIZERS)}")
    inits = [cfg.init] if isinstance(cfg.init, str) else list(cfg.init)
    if not inits or any(i not in START_NAMES for i in inits):
        raise StylenetError(f"init={cfg.init} must be noise, content or a list of them, e.g. [noise,content]")
    iterations = int(cfg.iterations)
    if iterations < 0:
        raise StylenetError(f"iterations must be >= 0, got {iterations}")
    for key in ("size", "repeats", "limit", "style_size"):  # null means "the default"; 0 used to mean it silently
        if cfg.get(key) is not None and int(cfg[key]) < 1:
            raise StylenetError(f"{key}={cfg[key]} must be at least 1 (or null for the default)")
    for key in ("size", "style_size"):
        if cfg.get(key) is not None and int(cfg[key]) > MAX_SCORING_SIDE:
            raise StylenetError(f"{key}={cfg[key]} is over the evaluation's {MAX_SCORING_SIDE} px bound")
    cand = candidate(cfg)
    meta = cand.loss_meta
    size = int(cfg.size or (meta.get("train") or {}).get("image_size") or 256)
    ratio = painting_scale(meta, cfg.get("style_scale"))
    style_size = int(cfg.style_size) if cfg.style_size else (round(ratio * size) if ratio else None)
    if style_size is not None and style_size > MAX_SCORING_SIDE:
        raise StylenetError(f"the painting would be {style_size} px (style_scale {ratio:g} x size {size}), over the evaluation's "
                            f"{MAX_SCORING_SIDE} px bound; give a smaller size or style_scale")
    photos = OmegaConf.to_container(cfg.photos, resolve=True) if OmegaConf.is_config(cfg.photos) else cfg.photos
    paths = list_photos(photos)
    if cfg.limit:
        paths = paths[: int(cfg.limit)]
    device = resolve_device(str(cfg.device))
    overrides = _loss_overrides(cfg)
    if not meta.get("loss") and not (overrides.get("weights") and overrides.get("content_layers")):
        raise StylenetError("say which loss to score with: loss_from=checkpoints/<style>/last.ckpt (the trained network to compare "
                            "with: its loss, style size and image size) or loss=vgg19 with style_image=PAINTING")
    torch.manual_seed(int(cfg.seed or 0))  # loss.weights=random: the same network every run (and in the cache key)
    loss, style, loss_cfg, style_path = training_loss(meta, device, cfg.style_image, style_size, overrides)
    net = cand.build(style, device)
    out_dir = user_path(cfg.out) if cfg.out else user_path(cfg.paths.logs) / "eval" / cand.label
    check_writable_dir(out_dir, "evaluation folder (out=)")  # before the teacher runs, not after
    warm_up(net, loss, device)  # the teacher too when the outputs come from another tool: its first step is slow
    cache_parts = {"style": file_digest(style_path), "style_size": style_size or int((meta.get("style") or {}).get("size") or 0) or None,
                   "size": size, "loss": loss_cfg, "vgg": module_digest(loss.encoder), "seed": cfg.seed, "iterations": iterations, "optimizer": str(cfg.optimizer),
                   "lr": None if cfg.lr is None else float(cfg.lr), **clock_parts(device)}
    cache_dir = user_path(cfg.paths.logs) / "teacher_cache"
    style_meta = meta.get("style") or {}

    scores: list[list[PhotoScore]] = []
    failures: list[tuple[str, str]] = []
    for i, path in enumerate(paths, 1):
        try:
            photo = load_image(path, size=size).to(device)
            cache = TeacherCache(cache_dir, {**cache_parts, "photo": file_digest(path)}) if cfg.teacher_cache else None
            photo_scores, net_img, teacher_imgs = score_photo_starts(
                net, loss, photo, path.name, inits=inits, iterations=iterations, optimizer=str(cfg.optimizer),
                lr=None if cfg.lr is None else float(cfg.lr), seed=cfg.seed, repeats=int(cfg.repeats),
                full_curve=bool(cfg.full_curve), progress=bool(cfg.progress), cache=cache,
                output=None if net is not None else cand.output_for(path, photo), painting=style.to(device),
            )
        except (ImageError, TeacherDiverged, StylenetError) as e:
            failures.append((path.name, str(e)))
            print(f"[{i}/{len(paths)}] {path.name}: FAILED: {e}", file=sys.stderr)
            continue
        scores.append(photo_scores)
        for sc in photo_scores:
            atomic_write_text(curve_csv(sc.history), out_dir / f"{path.stem}_{sc.init}.csv")
        first = photo_scores[0]
        # iterations=0 (a search's gap_closed objective) runs no teacher: its panel would be the bare start.
        teachers = [] if iterations == 0 else list(zip(teacher_imgs, photo_scores))
        figure = side_by_side(
            [photo, net_img, *(img for img, _ in teachers), style],
            ["photo", cand.caption if math.isnan(first.net_seconds) else f"{cand.caption} {first.net_seconds * 1000:.0f} ms",
             *(f"teacher from {sc.init}, it {format_equiv(sc.equiv, iterations)}" for _, sc in teachers), "style"],
            height=max(256, photo.shape[-2]),  # room for the captions under small photos
        )
        atomic_save_image(figure, out_dir / f"{path.stem}.png")
        # A folder of another tool's outputs has no network time, so no speed ratio (it printed "nanx").
        reached = ", ".join(f"from {START_NAMES.get(sc.init, sc.init)} after {format_equiv(sc.equiv, iterations)} iterations"
                            + ("" if math.isnan(sc.speed_ratio) else f" ({'> ' if sc.equiv is None else ''}{sc.speed_ratio:.3g}x)")
                            for sc in photo_scores)
        print(
            f"[{i}/{len(paths)}] {path.name}: network loss {first.net_terms['total']:.4g} (style {first.style_vs_photo:.2f} of "
            f"the photo's)" + (f" = teacher {reached}" if iterations else ""),
            flush=True,
        )
    info = {
        "ckpt": cand.describe, "style": style_meta.get("name", style_path.stem),
        "global_step": cand.global_step,
        "size": size, "style_size": max(style.shape[-2:]), "style_scale": ratio,
        "device": str(device), "optimizer": str(cfg.optimizer), "iterations": iterations, "loss": loss_cfg,
        "inits": list(inits), "seed": cfg.seed, "loss_from": str(cfg.loss_from) if cfg.get("loss_from") else None,
        # whose loss scored it: loss_from='s training, the network's own, or loss= and style_image= given here
        "loss_source": f"the training loss of `{cfg.loss_from}`" if cfg.get("loss_from")
        else "same loss as training" if meta.get("loss") else "the loss given on the command line",
    }
    atomic_write_text(scores_csv(scores), out_dir / "scores.csv")
    atomic_write_text(summary_markdown(scores, failures, info), out_dir / "summary.md")
    return Evaluation(scores, failures, info, out_dir)


def main(argv: list[str] | None = None) -> None:
    hydra_command("evaluate", run, argv)


if __name__ == "__main__":
    main()
