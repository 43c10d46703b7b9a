"""DecoderModule: trains the decoders of several VGG levels at once (Li et al. 2017, §3.1).

Each level's decoder learns to invert the frozen encoder at relu{k}_1 on content photos only:

    L_k = ||I_k − I||² + feature_weight · ||Φ_k(I_k) − Φ_k(I)||²      (Li et al. eq. 1, λ = 1)

with I_k = D_k(Φ_k(I)) and Φ_k the encoder up to relu{k}_1 (both terms mean squared errors, pixels in
[0, 1]). ``normalize_features`` (default) divides the feature term by the target features' mean square,
as the project's perceptual loss normalises its terms: in raw units the shipped (Caffe-convention) VGG19's
features are so large that at λ = 1 the feature term outweighs the pixel term 10⁴–10⁶× (measured at
128 px: initial feature MSE 3e7 at relu1_1, 7e8 at relu2_1, against a pixel MSE of 8e2) and the pixel
term, half of Li et al.'s loss, would do nothing; relative, λ = 1 keeps both in play whatever the weights. The decoders are independent; they share the data, the
one encoder pass that gives every level's target, and one optimiser (the sum of the per-level losses
has per-decoder gradients equal to each level's own). Each level's forward and backward run one after
the other (manual optimisation), so its time per step can be measured alone (``time/level{k}``,
CPU timings are synchronous) and only one level's graph is alive at a time.

With ``style`` (decoders.style.paintings), the relu4_1 decoder is trained instead as AdaIN's, with Huang &
Belongie's content and style loss on painting crops (stylenet/training/decoder_style.py): the decoder that paints.
With ``distill`` (decoders.distill), it learns to decode AdaIN's features as a teacher decoder does
(stylenet/training/decoder_distill.py): how a narrower decoder (``width``) is taught by the full one.

Checkpoints hold the decoders only (``decoders.relu{k}_1.*``) and the metadata of
:class:`~stylenet.universal.checkpoint.UniversalMeta`; like :class:`~stylenet.training.module.StyleTransferModule`,
no VGG weights, and a diverged decoder is never saved.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from stylenet.networks.checkpoint import META_KEY, CheckpointError
from stylenet.perceptual.vgg import VGGEncoder
from stylenet.training.decoder_distill import LAYER, Distillation, distill_terms, load_teacher, mixed_features
from stylenet.training.decoder_style import (
    CONTENT_LAYER,
    STYLE_LAYERS,
    StyleTraining,
    crop_generator,
    load_paintings,
    painting_crops,
    style_terms,
)
from stylenet.training.module import MAX_ABS_WEIGHT, ExplodedWeightsError, NonFiniteLossError, batch_images
from stylenet.universal.checkpoint import PREFIX, UniversalMeta
from stylenet.universal.decoder import LEVELS, Decoder, level_layer
from stylenet.universal.lsq_init import least_squares_init
from stylenet.universal.transforms import adain_batch

ENCODER_PREFIX, TEACHER_PREFIX = "encoder.", "teacher."  # frozen parts: never saved, restored from their files
log = logging.getLogger(__name__)
# Lightning warns that periodic checkpoints under manual optimisation hold the state after the step: that is
# the state this module wants to save (the step is complete when the checkpoint is written).
warnings.filterwarnings("ignore", message=r".*manual optimization and every_n_train_steps.*")


def psnr(mse: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB of a mean squared error on [0, 1] pixels."""
    return -10.0 * torch.log10(mse.clamp_min(1e-10))


class DecoderModule(L.LightningModule):
    """``levels``: which decoders to train (1..5). ``encoder``: {network, weights} of the frozen VGG. ``style``:
    train the relu4_1 decoder (``levels`` must be [4]) with AdaIN's style loss on these paintings; ``seed``
    draws the painting crops."""

    def __init__(
        self,
        levels: Sequence[int],
        encoder: Mapping[str, Any],
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        feature_weight: float = 1.0,
        normalize_features: bool = True,
        image_size: int | None = None,
        init_images: int = 0,
        init_ridge: float = 1e-4,
        style: StyleTraining | None = None,
        seed: int = 0,
        width: float = 1.0,
        distill: Distillation | None = None,
    ):
        super().__init__()
        self.automatic_optimization = False  # per-level backward, for per-level timing (module docstring)
        levels = sorted({int(k) for k in levels})
        if not levels or any(k not in LEVELS for k in levels):
            raise ValueError(f"decoders.levels={list(levels)} must be a non-empty list of levels from {list(LEVELS)}")
        if style is not None and levels != [4]:
            raise ValueError(f"the style loss trains AdaIN's relu4_1 decoder alone; got decoders.levels={levels}, set decoders.levels=[4]")
        if distill is not None and (levels != [4] or style is not None):
            raise ValueError("distillation trains AdaIN's relu4_1 decoder alone, without a style loss: set decoders.levels=[4] "
                             "and decoders.style.paintings=[]")
        self.levels = levels
        self.style, self.seed = style, int(seed)
        self.style_record: dict | None = None  # the paintings by content, hashed at the first checkpoint (stylenet_meta)
        self._paintings: list[torch.Tensor] | None = None
        self.encoder_cfg = {"network": str(encoder.get("network", "vgg19")), "weights": str(encoder.get("weights", "embedded"))}
        self.width, self.distill = float(width), distill
        # the teacher's relu4_1 decoder, frozen; a submodule so that it follows the module's device
        self.teacher = load_teacher(distill.teacher, self.encoder_cfg) if distill is not None else None
        self.decoders = nn.ModuleDict({level_layer(k): Decoder(k, self.encoder_cfg["network"], self.width) for k in levels})
        layers = [level_layer(k) for k in levels] + (list(STYLE_LAYERS) if style is not None else [])
        self.encoder = VGGEncoder(layers, weights=self.encoder_cfg["weights"], network=self.encoder_cfg["network"])
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.feature_weight = float(feature_weight)
        self.normalize_features = bool(normalize_features)
        self.image_size = image_size
        self.init_images = int(init_images)  # 0: PyTorch's default initialisation, input scale from the first batch
        self.init_ridge = float(init_ridge)

    def level_terms(self, k: int, x: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Level ``k``'s loss terms on photos ``x`` whose relu{k}_1 features are ``target``."""
        layer = level_layer(k)
        y = self.decoders[layer](target, clamp=False)  # unclamped: the gradient never vanishes (decoder.py)
        pixel = F.mse_loss(y, x)
        feature = F.mse_loss(self.encoder(y, layers=[layer])[layer], target)
        if self.normalize_features:  # relative to the target's own mean square (module docstring)
            feature = feature / target.pow(2).mean().clamp_min(1e-8)
        return {"pixel": pixel, "feature": feature, "total": pixel + self.feature_weight * feature,
                "psnr": psnr(F.mse_loss(y.detach().clamp(0, 1), x))}

    def distill_level_terms(self, x: torch.Tensor, target: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """decoder_distill.py's terms for photos ``x`` whose relu4_1 features are ``target``; in validation also the
        reconstruction's PSNR, comparable with a reconstruction run's."""
        t = mixed_features(target, generator)
        terms = distill_terms(self.decoders[LAYER], self.teacher, lambda im: self.encoder(im, layers=[LAYER])[LAYER], t,
                              self.feature_weight, self.normalize_features)
        if not self.training:
            terms["psnr"] = psnr(F.mse_loss(self.decoders[LAYER](target), x))
        return terms

    def paintings(self) -> list[torch.Tensor]:
        """The style run's paintings at ``style.size`` (loaded once, kept on the CPU where they are cropped)."""
        if self._paintings is None:
            self._paintings = load_paintings(self.style.paintings, self.style.size, self.image_size or 128)
        return self._paintings

    def style_level_terms(self, target: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """The AdaIN decoder's terms (decoder_style.py) for photos whose relu4_1 features are ``target``, each
        with a painting crop drawn from ``generator``."""
        crop = self.image_size or 128
        s = painting_crops(self.paintings(), len(target), crop, generator).to(target.device)
        with torch.no_grad():
            painting = self.encoder(s, layers=STYLE_LAYERS)
            t = adain_batch(target, painting[CONTENT_LAYER])
        y = self.decoders[CONTENT_LAYER](t, clamp=False)  # unclamped, as in level_terms
        terms = style_terms(self.encoder(y, layers=STYLE_LAYERS), painting, t)
        terms["total"] = terms["content"] + self.style.weight * terms["style"]
        return terms

    def terms(self, k: int, x: torch.Tensor, targets: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Level ``k``'s loss terms: AdaIN's with a style run, the teacher's with a distillation, else Li et al.'s
        reconstruction."""
        if self.style is not None:
            return self.style_level_terms(targets[level_layer(k)], generator)
        if self.distill is not None:
            return self.distill_level_terms(x, targets[LAYER], generator)
        return self.level_terms(k, x, targets[level_layer(k)])

    def training_step(self, batch: Any, batch_idx: int) -> None:
        x = batch_images(batch)
        opt = self.optimizers()
        opt.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        with torch.no_grad():
            targets = self.encoder(x, layers=[level_layer(k) for k in self.levels])  # one pass gives every level's target
        logs = {"time/encoder": time.perf_counter() - t0}
        if self.global_step == 0 and batch_idx == 0 and not self.init_images:  # input scale once (decoder.py); resumed runs load it
            for k in self.levels:
                self.decoders[level_layer(k)].input_scale.fill_(float(targets[level_layer(k)].pow(2).mean().sqrt().clamp_min(1e-8)) ** -1)
        total = 0.0
        for k in self.levels:
            t0 = time.perf_counter()
            terms = self.terms(k, x, targets, crop_generator(self.seed, self.global_step))
            if not torch.isfinite(terms["total"]):
                shown = ", ".join(f"{n}={v.item():.4g}" for n, v in terms.items() if n not in ("total", "psnr"))
                raise NonFiniteLossError(
                    f"level {k}'s loss became non-finite at step {self.global_step} ({shown}); training stopped, the last "
                    "checkpoint is intact: lower module.optimizer.lr, then resume with ckpt_path=last"
                )
            self.manual_backward(terms["total"])
            logs[f"time/level{k}"] = time.perf_counter() - t0
            logs |= {f"train/level{k}/{name}": v.detach() for name, v in terms.items()}
            total = total + terms["total"].detach()
        opt.step()
        sched = self.lr_schedulers()
        if sched is not None:
            sched.step()
        logs["train/total"] = total
        self.log_dict(logs, batch_size=x.shape[0])
        self.log("loss", total, prog_bar=True, logger=False, batch_size=x.shape[0])

    def on_train_start(self) -> None:
        """A fresh run fits every decoder by least squares (lsq_init.py) on its first ``init_images`` training
        crops (epoch 0's first batches, then epoch 1's if there are too few photos, ...; from a loader with a
        cursor of its own: the run's data order is untouched). A resumed run has its weights already."""
        if self.global_step or not self.init_images:
            return
        loader, batches, n = self.trainer.datamodule.train_dataloader(), [], 0
        loader.progress = dict(loader.progress)  # its own cursor: the run's data order is untouched
        while n < self.init_images:  # a few photos (the shipped five): every pass is a new epoch, new random crops
            before = n
            for batch in loader:
                batches.append(batch_images(batch).to(self.device))
                n += len(batches[-1])
                if n >= self.init_images:
                    break
            if n == before:
                break
        images = torch.cat(batches)[: self.init_images]
        for k in self.levels:
            t0 = time.perf_counter()
            errors = least_squares_init(self.decoders[level_layer(k)], self.encoder, images, self.init_ridge)
            log.info("level %d: least-squares initialisation on %d crops in %.0f s (relative fit error, output layer: %.3g)",
                     k, len(images), time.perf_counter() - t0, errors[-1])
        if self.trainer.world_size > 1:  # each rank saw its own shard: every rank takes rank 0's fit
            state = self.trainer.strategy.broadcast(self.decoders.state_dict(), src=0)
            self.decoders.load_state_dict(state)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x = batch_images(batch)
        targets = self.encoder(x, layers=[level_layer(k) for k in self.levels])
        logs = {}
        for k in self.levels:
            terms = self.terms(k, x, targets, crop_generator(0, batch_idx))  # the same crops at every validation
            logs |= {f"val/level{k}/{name}": v for name, v in terms.items()}
        self.log_dict(logs, batch_size=x.shape[0], sync_dist=True)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> dict[int | str, torch.Tensor]:
        """Every level's reconstruction of ``x`` (clamped), for sample grids; a style run's decoder instead
        stylises ``x`` with each of its first four paintings (whole, at ``style.size``)."""
        targets = self.encoder(x, layers=[level_layer(k) for k in self.levels])
        if self.style is None:
            return {k: self.decoders[level_layer(k)](targets[level_layer(k)]) for k in self.levels}
        out = {}
        for path, painting in list(zip(self.style.paintings, self.paintings()))[:4]:
            s = self.encoder(painting.to(x.device), layers=[CONTENT_LAYER])[CONTENT_LAYER]
            t = adain_batch(targets[CONTENT_LAYER], s.expand(len(x), -1, -1, -1))
            out[path] = self.decoders[CONTENT_LAYER](t)
        return out

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(params=self.decoders.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer=optimizer), "interval": "step"}}

    # ---- checkpoints ---------------------------------------------------------------------------
    def stylenet_meta(self) -> dict[str, Any]:
        if self.style is not None and self.style_record is None:
            self.style_record = self.style.describe()
        return UniversalMeta(
            encoder=dict(self.encoder_cfg), levels=tuple(self.levels), width=self.width,
            train={"image_size": self.image_size, "global_step": int(self.global_step), "feature_weight": self.feature_weight,
                   "normalize_features": self.normalize_features, "init_images": self.init_images}
            | ({"style": self.style_record} if self.style_record else {})
            | ({"distill": self.distill.describe()} if self.distill is not None else {}),
        ).to_dict()

    def check_weights(self) -> None:
        """As :meth:`StyleTransferModule.check_weights`: a diverged decoder never replaces a good checkpoint.
        The decoders have no normalisation, so a healthy weight is far below the bound too."""
        for name, dec in self.decoders.items():
            # torch's amax, not Python's max: max() skips a NaN that does not come first.
            values = [v.detach().abs().amax().float() for v in dec.state_dict().values() if v.numel()]
            worst = float(torch.stack(values).amax()) if values else 0.0
            if not worst <= MAX_ABS_WEIGHT:  # also true for NaN
                raise ExplodedWeightsError(
                    f"the {name} decoder's weights exploded at step {self.global_step} (max |w| = {worst:.3g}); nothing was "
                    "saved and earlier checkpoints are intact: lower module.optimizer.lr, then resume with ckpt_path=last"
                )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.check_weights()
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k.startswith(PREFIX)}
        checkpoint[META_KEY] = self.stylenet_meta()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        sd = checkpoint["state_dict"]
        missing = sorted({k.split(".")[1] for k in self.state_dict() if k.startswith(PREFIX) and k not in sd})
        if missing:
            held = (checkpoint.get(META_KEY) or {}).get("levels")
            raise CheckpointError(
                f"the checkpoint has no {', '.join(missing)} decoder (it holds levels {held}); resume with the same "
                "decoders.levels, or train the new levels in their own folder (run_name=...)"
            )
        sd.update({k: v for k, v in self.state_dict().items() if k.startswith((ENCODER_PREFIX, TEACHER_PREFIX))})

