"""What a stylenet network's file says about itself: :class:`CheckpointMeta` (written, read, validated,
bounded, documented here once), its bounds and :class:`CheckpointError`.

Apart from :mod:`stylenet.networks.checkpoint` (which loads files) so that every reader of a file (a torch
checkpoint, a pretrained folder: :mod:`stylenet.networks.pretrained_read`) validates with the same class and
none of them imports another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stylenet.errors import StylenetError
from stylenet.networks.transformer import OUTPUTS, STEMS

# 2: TransformerNet's parts renamed encoder/decoder → downsample/upsample (VGGEncoder is the encoder);
# version-1 files load through V1_KEYS.
FORMAT_VERSION = 2
META_KEY = "stylenet"
# Bounds on what a file may ask for. The paper's network is 32 channels and 5 blocks; these allow 16× the
# width (256× the parameters) and 12× the depth, far beyond any useful network, and still fit in memory.
MAX_BASE_CHANNELS = 512
MAX_RESIDUAL_BLOCKS = 64
MAX_RESIDUAL_CHANNELS = 4 * MAX_BASE_CHANNELS  # the paper's residual width is 4 × base_channels
MAX_SIDE = 16384  # train.image_size, infer.py --size: evaluation loads images at these sizes
# A painting's long side (style.size, styles[i].size, infer.py --style-size): its Gram statistics need no more,
# and a crafted 16384 (within MAX_SIDE) allocated a 16384 px painting in evaluate. The config, the checkpoint
# reader and the command line all take it from here.
MAX_PAINTING_SIDE = 4096
# The working long side a style paints best at (style.stroke_side, styles[i].stroke_side: measured by
# stylenet.teacher.strokes, read by --stroke-scale auto). Under 64 px a network sees mostly border.
MIN_STROKE_SIDE = 64
MAX_STYLES = 1024  # styles in one network (Magenta's largest held 32; each adds 2 × 12 norm rows)
ARCH_NAME = "TransformerNet"
UNIVERSAL_KIND = "universal"  # meta["kind"] of the universal decoders' file (stylenet.universal)


class CheckpointError(StylenetError, ValueError):
    """A file that is not a usable stylenet checkpoint; the message says which and why."""


def _int(value: Any, what: str, low: int, high: int, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CheckpointError(f"{source}: {what}={value!r} is not a whole number in [{low}, {high}]; the file is damaged or not stylenet's")
    return value


def _dict(value: Any, what: str, source: str) -> dict:
    if not isinstance(value, dict):
        raise CheckpointError(f"{source}: '{what}' is {type(value).__name__}, not a mapping; the file is damaged or not stylenet's")
    return value


@dataclass(frozen=True)
class CheckpointMeta:
    """Everything inference needs besides the weights (``checkpoint["stylenet"]``)::

        format_version: 2
        arch:  {"name": "TransformerNet", "base_channels": 32, "num_residual_blocks": 5}   # + "output": "clamp"
               for a network converted from pytorch/examples (TransformerNet's output layer; default tanh)
        style: {"name": "wave", "image": "assets/styles/wave.jpg", "size": 512}     # size may be None; optional
               "stroke_side": 768, the working long side the style paints best at (stylenet.teacher.strokes)
        styles: [{"name": ..., "image": ..., "size": ..., "style_weight": ..., "stroke_side": ...}, ...]  # several styles only:
               arch["num_styles"] rows, in the network's order (Dumoulin et al. 2017); "style" then
               names them all ({"name": "wave+udnie"})
        loss:  the perceptual loss's settings (stylenet.perceptual.loss.build_perceptual_loss's
               arguments: network, weights, layers, weights of the terms, ...); no "network" (older
               files): vgg16
        train: {"image_size": 256, "global_step": 1234, "style_warmup_steps": 500}

    A network converted from a pytorch/examples state_dict (:func:`examples_meta`) has ``loss`` and
    ``train`` empty and a ``style`` named after its file, with ``"image": None`` and a ``"note"`` saying that
    its painting and loss are unknown.
    """

    arch: dict
    style: dict
    loss: dict
    train: dict = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    styles: list = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {"format_version": self.format_version, "arch": dict(self.arch), "style": dict(self.style),
               "loss": dict(self.loss), "train": dict(self.train)}
        if self.styles:
            out["styles"] = [dict(s) for s in self.styles]
        return out

    @property
    def style_names(self) -> list[str]:
        """The styles a multi-style network holds, in order; [] for a one-style network."""
        return [s["name"] for s in self.styles]

    @classmethod
    def from_dict(cls, meta: Any, source: str = "checkpoint") -> CheckpointMeta:
        """Validate what a file says; one :class:`CheckpointError` line for anything out of bounds."""
        meta = _dict(meta, META_KEY, source)
        version = meta.get("format_version", 1)
        if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
            raise CheckpointError(f"{source} was written by a newer stylenet (format {version}); upgrade stylenet")
        version = _int(version, "format_version", 1, FORMAT_VERSION, source)
        arch = _dict(meta.get("arch"), "arch", source)
        if arch.get("name", ARCH_NAME) != ARCH_NAME:
            raise CheckpointError(f"{source}: unknown architecture {arch.get('name')!r}; this stylenet builds {ARCH_NAME}")
        extra = sorted(set(arch) - {"name", "base_channels", "num_residual_blocks", "num_styles", "output", "stem", "residual_channels"})
        if extra:
            raise CheckpointError(f"{source}: unknown arch settings {extra}; the file is damaged or from another program")
        num_styles, output = arch.get("num_styles", 1), arch.get("output", "tanh")
        arch_in, arch = arch, {"name": ARCH_NAME,
                "base_channels": _int(arch.get("base_channels"), "arch.base_channels", 1, MAX_BASE_CHANNELS, source),
                "num_residual_blocks": _int(arch.get("num_residual_blocks"), "arch.num_residual_blocks", 0, MAX_RESIDUAL_BLOCKS, source)}
        if _int(num_styles, "arch.num_styles", 1, MAX_STYLES, source) > 1:
            arch["num_styles"] = num_styles
        if not isinstance(output, str) or output not in OUTPUTS:
            raise CheckpointError(f"{source}: arch.output={output!r} is not one of {', '.join(OUTPUTS)}; the file is damaged or from another program")
        if output != "tanh":
            arch["output"] = output
        stem = arch_in.get("stem", "full")
        if not isinstance(stem, str) or stem not in STEMS:
            raise CheckpointError(f"{source}: arch.stem={stem!r} is not one of {', '.join(STEMS)}; the file is damaged or from another program")
        if stem != "full":
            arch["stem"] = stem
        if arch_in.get("residual_channels") is not None:
            arch["residual_channels"] = _int(arch_in["residual_channels"], "arch.residual_channels", 1, MAX_RESIDUAL_CHANNELS, source)
        styles = _styles(meta.get("styles"), num_styles, source)
        style = dict(_dict(meta.get("style", {}), "style", source))
        if style.get("size") is not None:
            _int(style["size"], "style.size", 1, MAX_PAINTING_SIDE, source)
        if style.get("stroke_side") is not None:
            _int(style["stroke_side"], "style.stroke_side", MIN_STROKE_SIDE, MAX_SIDE, source)
        train = dict(_dict(meta.get("train", {}), "train", source))
        if train.get("image_size") is not None:
            _int(train["image_size"], "train.image_size", 1, MAX_SIDE, source)
        loss = dict(_dict(meta.get("loss", {}), "loss", source))
        return cls(arch=arch, style=style, loss=loss, train=train, format_version=version, styles=styles)


def _styles(styles: Any, num_styles: int, source: str) -> list[dict]:
    """A multi-style file's style list: one entry per conditional-norm row, each named, names unique."""
    if num_styles == 1:
        if styles:
            raise CheckpointError(f"{source}: a style list without arch.num_styles; the file is damaged")
        return []
    if not isinstance(styles, list) or len(styles) != num_styles:
        n = len(styles) if isinstance(styles, list) else type(styles).__name__
        raise CheckpointError(f"{source}: arch.num_styles={num_styles} but the style list has {n} entries; the file is damaged")
    out = []
    for i, st in enumerate(styles):
        st = dict(_dict(st, f"styles[{i}]", source))
        if not isinstance(st.get("name"), str) or not st["name"]:
            raise CheckpointError(f"{source}: styles[{i}] has no name; the file is damaged")
        if st.get("size") is not None:
            _int(st["size"], f"styles[{i}].size", 1, MAX_PAINTING_SIDE, source)
        if st.get("stroke_side") is not None:
            _int(st["stroke_side"], f"styles[{i}].stroke_side", MIN_STROKE_SIDE, MAX_SIDE, source)
        out.append(st)
    names = [st["name"] for st in out]
    if len(set(names)) != len(names):
        raise CheckpointError(f"{source}: the style list names a style twice ({', '.join(names)}); the file is damaged")
    return out

