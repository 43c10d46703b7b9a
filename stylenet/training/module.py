"""StyleTransferModule: trains a TransformerNet against the frozen perceptual loss (Johnson et al. 2016)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import lightning as L
import torch

from stylenet.config import ConfigError
from stylenet.data.images import load_image, resize_tensor, resize_tensor_long_side
from stylenet.errors import StylenetError
from stylenet.networks.checkpoint import ARCH_NAME, META_KEY, NET_PREFIX, CheckpointMeta, upgrade_v1_keys
from stylenet.networks.transformer import TransformerNet, set_mix
from stylenet.perceptual.loss import build_perceptual_loss, one_style_loss
from stylenet.training.spec import style_entry, style_factors
from stylenet.training.styles import train_only_styles
from stylenet.training.temporal import TemporalConfig, temporal_terms

LOSS_PREFIX = "loss."
# Largest |weight| a checkpoint may hold. Every convolution but the last feeds an instance norm, which
# undoes any scale, and the last feeds a tanh: a healthy network needs no weight far from 1 (they start
# below 1 and stay near it; a diverged one, e.g. module.optimizer.lr=1e30, holds 1e30 and paints every photo
# black or white). 1e4 leaves four orders of magnitude to healthy training and catches divergence long
# before float32 overflows.
MAX_ABS_WEIGHT = 1e4

log = logging.getLogger(__name__)


class NonFiniteLossError(StylenetError, RuntimeError):
    """The loss became NaN or infinite; training stops, the last good checkpoint stays as it was."""


class ExplodedWeightsError(StylenetError, RuntimeError):
    """The network's weights diverged (non-finite or beyond :data:`MAX_ABS_WEIGHT`); nothing is saved,
    the last good checkpoint stays as it was."""


def batch_images(batch: Any) -> torch.Tensor:
    """The B×3×H×W image tensor of a batch (a tensor, a (images, ...) tuple or {"image": ...})."""
    if isinstance(batch, Mapping):
        return batch["image"]
    if isinstance(batch, (list, tuple)):
        return batch[0]
    return batch


@dataclass(frozen=True)
class Progressive:
    """Progressive resolution (Karras et al. 2018's "Progressive Growing", applied to the crops only): the first
    ``steps`` steps train on crops of ``size`` px (the batch shrunk, the painting shrunk with it), then on the
    full ``data.image_size``. Small crops are ~4× cheaper per step, so the network learns to paint in many cheap
    steps and then learns the larger scale; the stage is a function of the step, so a resumed run is exact."""

    size: int
    steps: int

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None, image_size: int | None) -> Progressive | None:
        if not cfg or not cfg.get("steps"):
            return None
        size, steps = cfg.get("size"), cfg.get("steps")
        for key, v in (("size", size), ("steps", steps)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"module.progressive.{key}={v!r} must be a whole number >= 1 (module.progressive.steps=0 turns it off)")
        if image_size is not None and not 16 <= size < image_size:
            raise ConfigError(f"module.progressive.size={size} must be at least 16 and below data.image_size={image_size}")
        return cls(int(size), int(steps))

    def crop_at(self, step: int) -> int | None:
        return self.size if step < self.steps else None


class StyleTransferModule(L.LightningModule):
    """``net`` is the only trainable part; ``loss`` (VGG16 + style targets) is rebuilt from config and
    never stored in checkpoints, which therefore hold a few MB and load without VGG weights."""

    def __init__(
        self,
        net: TransformerNet,
        loss: Mapping[str, Any],
        style: Mapping[str, Any],
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "step",
        image_size: int | None = None,
        channels_last: bool = False,
        compile: bool = False,
        compile_loss: bool = False,
        style_warmup_steps: int = 0,
        temporal: Mapping[str, Any] | None = None,
        styles: Sequence[Mapping[str, Any]] | None = None,
        new_styles_only: bool = False,
        first_new_style: int | None = None,
        progressive: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        self.net = net
        loss_cfg = dict(loss)  # plain types (training.py resolves the config), so it can go in checkpoints
        # Several styles (Dumoulin et al. 2017, stylenet/training/styles.py): one conditional-norm row each.
        self.styles = [style_entry(st) for st in styles or []]
        if len(self.styles) != (net.num_styles if net.num_styles > 1 else 0):
            raise StylenetError(f"the network holds {net.num_styles} style(s) but {len(self.styles)} styles were given")
        if self.styles:
            names = [st["name"] for st in self.styles]
            self.style = {"name": "+".join(names), "image": None, "size": None}
        else:
            loss_cfg = one_style_loss(loss_cfg, style)
            self.style = style_entry(style)
            self.style.pop("style_weight", None)
        self.loss_cfg = loss_cfg
        self.loss = build_perceptual_loss(**loss_cfg)
        # Which styles the batches draw: all, or only those added to a trained network (init_from=...).
        self.new_styles_only = bool(new_styles_only)
        self.trained_styles = list(range(len(self.styles)))
        if self.new_styles_only:
            if first_new_style is None or not self.styles:
                raise StylenetError("module.new_styles_only=true adds styles to a trained multi-style network: give "
                                    "init_from=CKPT and styles=[its styles..., NEW] (experiment=add_style)")
            self.trained_styles = list(range(first_new_style, len(self.styles)))
            train_only_styles(net, self.trained_styles)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        self.image_size = image_size
        self.use_channels_last = channels_last
        self.style_warmup_steps = int(style_warmup_steps or 0)
        self.temporal = TemporalConfig(**dict(temporal or {}))
        # torch.compile'd forward kept outside the module tree (object.__setattr__), so state_dict keys
        # stay `net.*` and checkpoints load with or without compile.
        object.__setattr__(self, "_forward_net", torch.compile(net) if compile else net)
        if compile_loss:
            # In place (nn.Module.compile): the VGG pass, Grams and MSEs become fused kernels while the
            # module tree and state_dict keys stay as they are; set_style still runs the eager encoder.
            self.loss.compile()
        self.style_image: torch.Tensor | None = None
        self.style_images: list[torch.Tensor] | None = None
        self.progressive = Progressive.from_config(progressive, image_size)
        self._phase_size: int | None = None  # the crop size the style targets are set for

    # ---- style target -------------------------------------------------------------------------
    def load_style(self) -> torch.Tensor:
        if self.style_image is None:
            self.style_image = load_image(self.style["image"], size=self.style["size"])
        return self.style_image

    def load_styles(self) -> list[torch.Tensor]:
        """Each style's painting at its size: the one style's, or every style of a multi-style network."""
        if not self.styles:
            return [self.load_style()]
        if self.style_images is None:
            self.style_images = [load_image(st["image"], size=st["size"]) for st in self.styles]
        return self.style_images

    def setup(self, stage: str) -> None:
        if self.use_channels_last:
            self.net.to(memory_format=torch.channels_last)
            self.loss.encoder.to(memory_format=torch.channels_last)
        # The target Grams are buffers: when Lightning moves the module to its device after setup(),
        # they move with it, so the style image is encoded once per run (once per style: each sample is
        # then scored against its own style's Grams, PerceptualLoss.set_styles).
        self.set_targets(self.image_size)

    def set_targets(self, crop: int | None) -> None:
        """The style targets for crops of ``crop`` px: the paintings at their sizes scaled by ``crop`` /
        ``image_size``, so the painting-to-photo scale stays the training's at every stage of a progressive run."""
        scale = crop / self.image_size if crop and self.image_size and crop != self.image_size else None
        images = [img if scale is None else resize_tensor_long_side(img, max(1, round(max(img.shape[-2:]) * scale)))
                  for img in self.load_styles()]
        if self.styles:
            weight = float(self.loss_cfg.get("style_weight", self.loss.style_weight))
            factors = style_factors(weight, self.styles)
            self.loss.set_styles([img.to(self.device) for img in images], factors)
        else:
            self.loss.set_style(images[0].to(self.device))
        self._phase_size = crop

    def stage_batch(self, x: torch.Tensor) -> torch.Tensor:
        """The batch at the crop size of this step (progressive resolution, :class:`Progressive`), with the style
        targets set for it; unchanged outside a progressive run's first stage."""
        crop = (self.progressive.crop_at(int(self.global_step)) if self.progressive else None) or self.image_size
        if crop != self._phase_size:  # a stage begins (or a resumed run re-enters its stage)
            self.set_targets(crop)
        short = min(x.shape[-2:])
        if crop is None or crop == self.image_size or short <= crop:
            return x
        return resize_tensor(x, (max(1, round(x.shape[-2] * crop / short)), max(1, round(x.shape[-1] * crop / short))))

    def choose_styles(self, batch_size: int, style: int | None = None) -> torch.Tensor | None:
        """A multi-style network's styles for a batch (B indices, also set as the norms' mix), None for one
        style. Training: drawn round-robin from the step, so every batch mixes styles, every style gets the
        same share, and a resumed run draws what the uninterrupted one would; ``style``: all samples in it."""
        if not self.styles:
            return None
        if style is None:
            pool = torch.tensor(self.trained_styles)
            index = pool[(int(self.global_step) * batch_size + torch.arange(batch_size)) % len(pool)]
        else:
            index = torch.full((batch_size,), int(style))
        index = index.to(self.device)
        set_mix(self.net, torch.nn.functional.one_hot(index, len(self.styles)).float())
        return index

    # ---- steps --------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward_net(x)

    def _terms(self, x: torch.Tensor, style: int | None = None) -> dict[str, torch.Tensor]:
        x = self.stage_batch(x)
        if self.use_channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        index = self.choose_styles(x.shape[0], style)
        return self.loss(self(x), x, style_index=index)

    def style_ramp(self) -> float:
        """Factor on the style term while training: 0 → 1 linearly over the first ``style_warmup_steps``.

        With the full style weight from step 0, a freshly initialised network often falls into painting
        flat colour with dark blobs and never recovers the photo (seen here at 128 px: whether it does
        depends on the seed). Ramping style in lets it first learn to pass the photo through, then paint
        it; the same idea as learning-rate warm-up (Goyal et al. 2017), applied to the loss balance."""
        if self.style_warmup_steps <= 0:
            return 1.0
        return min(1.0, (self.global_step + 1) / self.style_warmup_steps)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x = self.stage_batch(batch_images(batch))
        if self.use_channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        index = self.choose_styles(x.shape[0])
        y = self(x)
        terms = self.loss(y, x, style_index=index)
        if self.temporal.active:
            # Drawn from the step, not the global RNG, so a resumed run draws the motions it would have drawn.
            generator = torch.Generator().manual_seed(1_000_003 * int(self.global_step) + 17)
            extra = temporal_terms(self, x, y, self.temporal, generator, step=int(self.global_step))
            terms = {**terms, **extra, "total": terms["total"] + sum(extra.values())}
        if not torch.isfinite(terms["total"]):
            values = ", ".join(f"{k}={v.item():.4g}" for k, v in terms.items())
            raise NonFiniteLossError(
                f"loss became non-finite at step {self.global_step} ({values}); training stopped, the last "
                "checkpoint is intact: lower module.optimizer.lr or the loss weights, then resume with ckpt_path=..."
            )
        self.log_dict({f"train/{k}": v for k, v in terms.items()}, batch_size=x.shape[0])
        self.log("loss", terms["total"], prog_bar=True, logger=False, batch_size=x.shape[0])
        ramp = self.style_ramp()
        if ramp < 1.0:
            self.log("train/style_ramp", ramp, batch_size=x.shape[0])
            return terms["total"] - (1.0 - ramp) * terms["style"]
        return terms["total"]

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x = batch_images(batch)
        if not self.styles:
            terms = self._terms(x)
            self.log_dict({f"val/{k}": v for k, v in terms.items()}, batch_size=x.shape[0], sync_dist=True)
            return
        # Every validation photo in every style: val/<style>/<term>, and val/<term> their mean.
        per_style = [self._terms(x, s) for s in range(len(self.styles))]
        for st, terms in zip(self.styles, per_style):
            self.log_dict({f"val/{st['name']}/{k}": v for k, v in terms.items()}, batch_size=x.shape[0], sync_dist=True)
        mean = {k: torch.stack([t[k] for t in per_style]).mean() for k in per_style[0]}
        self.log_dict({f"val/{k}": v for k, v in mean.items()}, batch_size=x.shape[0], sync_dist=True)

    def configure_optimizers(self):
        # Frozen parts (new_styles_only) are left out: the optimiser holds no state for them.
        optimizer = self.optimizer_factory(params=[p for p in self.net.parameters() if p.requires_grad])
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": self.scheduler_interval}}

    # ---- checkpoints ---------------------------------------------------------------------------
    def stylenet_meta(self) -> dict[str, Any]:
        """Everything inference needs besides the weights (:class:`CheckpointMeta`), as plain types."""
        train = {"image_size": self.image_size, "global_step": int(self.global_step),
                 "style_warmup_steps": self.style_warmup_steps, "temporal": asdict(self.temporal)}
        if self.progressive:
            train["progressive"] = asdict(self.progressive)
        if self.new_styles_only:
            train["trained_styles"] = [self.styles[i]["name"] for i in self.trained_styles]
        return CheckpointMeta(
            arch={"name": ARCH_NAME, **self.net.config},
            style=dict(self.style),
            loss=dict(self.loss_cfg),
            train=train,
            styles=[dict(st) for st in self.styles],
        ).to_dict()

    def check_weights(self) -> None:
        """Raise :class:`ExplodedWeightsError` if the network has diverged: the loss can stay finite while
        the weights do not (a saturated tanh), so this is checked on the weights themselves."""
        tensors = [v.detach().abs().amax() for v in self.net.state_dict().values() if v.is_floating_point() and v.numel()]
        worst = float(torch.stack(tensors).amax()) if tensors else 0.0
        if not worst <= MAX_ABS_WEIGHT:  # also true for NaN
            raise ExplodedWeightsError(
                f"the network's weights exploded at step {self.global_step} (max |w| = {worst:.3g}, healthy ones stay "
                f"below {MAX_ABS_WEIGHT:g}); nothing was saved and earlier checkpoints are intact: lower module.optimizer.lr, "
                "then resume with ckpt_path=last (the new lr applies) or start again"
            )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Before anything is written: a diverged network must never replace the last good checkpoint.
        self.check_weights()
        # No VGG weights in checkpoints: they are frozen, public and 58 MB.
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if not k.startswith(LOSS_PREFIX)}
        checkpoint[META_KEY] = self.stylenet_meta()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if checkpoint.get(META_KEY, {}).get("format_version", 1) == 1:  # written before the parts were renamed
            checkpoint["state_dict"] = upgrade_v1_keys(checkpoint["state_dict"])
        # Put the (rebuilt) loss entries back so Lightning's strict load still checks every net key.
        sd = checkpoint["state_dict"]
        missing = [k for k in self.state_dict() if k.startswith(NET_PREFIX) and k not in sd]
        if missing:
            raise RuntimeError(f"checkpoint lacks network weights {missing[:3]}...: it was made for another model config")
        sd.update({k: v for k, v in self.state_dict().items() if k.startswith(LOSS_PREFIX)})
        self.apply_configured_lr(checkpoint)

    def configured_lr(self) -> float | None:
        """The learning rate the config gives (``module.optimizer.lr``, or the optimiser's default)."""
        lr = self.optimizer_factory(params=[torch.nn.Parameter(torch.zeros(1))]).param_groups[0].get("lr")
        return None if lr is None else float(lr)

    def apply_configured_lr(self, checkpoint: dict[str, Any]) -> None:
        """Resume with the configured learning rate, not the one saved with the optimiser's state.

        Lightning restores the optimiser's param groups, lr included, so ``module.optimizer.lr`` on a resume was
        silently ignored, and "lower module.optimizer.lr, then resume" (the advice when training diverges) could
        not work. Called from :meth:`on_load_checkpoint`, which Lightning runs before it restores the
        optimiser from this same dict. With a scheduler the whole schedule is scaled (its base lrs and
        the current lr), so it keeps its shape from the new starting value."""
        states = checkpoint.get("optimizer_states") or []
        new = self.configured_lr()
        if not states or new is None:
            return
        ratios = []
        for group in states[0].get("param_groups", []):  # configure_optimizers builds one optimiser
            old = group.get("initial_lr", group.get("lr"))  # initial_lr: the configured lr under a scheduler
            if old is None or math.isclose(float(old), new, rel_tol=1e-9, abs_tol=0.0):
                ratios.append(1.0)
                continue
            ratio = new / float(old) if old else None
            group["lr"] = group["lr"] * ratio if ratio is not None else new
            if "initial_lr" in group:
                group["initial_lr"] = new
            ratios.append(ratio or 1.0)
            log.info("module.optimizer.lr=%g differs from the checkpoint's %g: applied to the restored optimizer%s",
                     new, float(old), f" (its schedule scaled by {ratio:g})" if ratio and "initial_lr" in group else "")
        if all(r == 1.0 for r in ratios):
            return
        for sched in checkpoint.get("lr_schedulers") or []:
            for key in ("base_lrs", "_last_lr"):
                if isinstance(sched.get(key), list) and len(sched[key]) == len(ratios):
                    sched[key] = [lr * r for lr, r in zip(sched[key], ratios)]
