"""Helpers shared by several test modules (fixtures are in conftest.py)."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import lightning as L
import numpy as np
import torch
from conftest import ROOT, tiny_meta
from PIL import Image

from stylenet.config import compose
from stylenet.data.datamodule import ContentImageDataModule
from stylenet.networks.checkpoint import atomic_save
from stylenet.networks.transformer import TransformerNet

LOSS = {"weights": "random", "content_layers": ["relu2_2"], "style_layers": ["relu1_2", "relu2_2"],
        "style_layer_weights": None, "content_weight": 1.0, "style_weight": 1e3, "tv_weight": 1.0, "single_pass": False}


def make_checkpoint(path: Path, style_image: Path, loss: dict | None = None) -> None:
    torch.manual_seed(0)
    net = TransformerNet(8, 1)
    meta = tiny_meta(8, 1)
    meta["style"] = {"name": "tiny", "image": str(style_image), "size": 48}
    meta["loss"] = dict(LOSS if loss is None else loss)
    meta["train"]["image_size"] = 40
    atomic_save({"stylenet": meta, "state_dict": net.state_dict()}, path)


MULTI = ("wave", "udnie", "the_scream")


def make_multi_checkpoint(path: Path, styles=MULTI, seed: int = 0) -> Path:
    """A tiny untrained multi-style network (8 channels, 1 block) whose styles differ visibly: each style's
    conditional-norm rows are drawn at random, as training would make them differ."""
    from stylenet.networks.transformer import ConditionalInstanceNorm2d

    torch.manual_seed(seed)
    net = TransformerNet(8, 1, num_styles=len(styles))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, ConditionalInstanceNorm2d):
                m.scale.normal_(1.0, 0.5)
                m.shift.normal_(0.0, 0.5)
    meta = tiny_meta(8, 1)
    meta["arch"]["num_styles"] = len(styles)
    meta["styles"] = [{"name": s, "image": str(ROOT / "assets" / "styles" / f"{s}.jpg"), "size": 64} for s in styles]
    meta["style"] = {"name": "+".join(styles), "image": None, "size": None}
    atomic_save({"stylenet": meta, "state_dict": net.state_dict()}, path)
    return path


def _evaluate(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    logs = [] if any(a.startswith("paths.logs=") for a in args) else [f"paths.logs={cwd / 'logs'}"]  # the teacher cache: not the repo's
    return subprocess.run([sys.executable, "-m", "stylenet", "evaluate", *args, *logs], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def images(seed: int = 0, hw=(32, 40)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    # A smooth photo-like content and a high-contrast striped style.
    y = torch.linspace(0, 1, hw[0]).view(1, 1, -1, 1)
    x = torch.linspace(0, 1, hw[1]).view(1, 1, 1, -1)
    content = torch.cat([y.expand(1, 1, *hw), x.expand(1, 1, *hw), (0.5 + 0.1 * torch.rand(1, 1, *hw, generator=g))], 1)
    stripes = (torch.arange(48).view(1, 1, 1, -1) // 4 % 2).float().expand(1, 3, 48, 48).clone()
    stripes[:, 1] *= 0.2
    return content.contiguous(), stripes


PHOTO = ROOT / "assets" / "sample" / "chelsea.jpg"


def photo(size=(61, 45), mode="RGB") -> Image.Image:
    return Image.open(PHOTO).convert("RGB").resize(size).convert(mode)


def photo_folder(folder: Path, count: int = 2) -> Path:
    """``count`` small photos of different sizes (p0.png, p1.png, ...) in a new ``folder``."""
    folder.mkdir(parents=True)
    for i in range(count):
        photo((90 + 10 * i, 70)).save(folder / f"p{i}.png")
    return folder


RED, GREEN, BLUE, YELLOW = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)


def solid(path: Path, color=RED, size=(24, 20), mode="RGB", **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).convert(mode).save(path, **save)
    return path


def noise(path: Path, seed: int, size=(24, 20)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


def datamodule(path, **kw) -> ContentImageDataModule:
    kw = {"image_size": 16, "batch_size": 2, "num_workers": 0, "pin_memory": False, **kw}
    return ContentImageDataModule(path=str(path), **kw)


def epochs(dm: ContentImageDataModule, n: int = 1) -> list[list[torch.Tensor]]:
    """``n`` epochs as the LightningModule sees them (through the main-process batch hook)."""
    dm.setup("fit")
    loader = dm.train_dataloader()
    return [[dm.on_before_batch_transfer(b, 0) for b in loader] for _ in range(n)]


def batches(dm: ContentImageDataModule) -> list[torch.Tensor]:
    return epochs(dm)[0]


def colors(images: torch.Tensor) -> set[tuple[int, ...]]:
    """Mean colour of each image, to the nearest 5 (JPEG shifts a solid colour by a level or two)."""
    return {tuple(5 * round(c / 5) for c in (img.mean((1, 2)) * 255).tolist()) for img in images}


MODES = {  # mode → (file name, save kwargs)
    "L": ("l.png", {}), "LA": ("la.png", {}), "P": ("p.png", {}), "RGBA": ("rgba.png", {}),
    "1": ("one.png", {}), "I;16": ("i16.png", {}), "I": ("i.tif", {}), "F": ("f.tif", {}),
    "CMYK": ("cmyk.jpg", {"quality": 95}), "RGB": ("rgb.webp", {}), "YCbCr": ("ycbcr.jpg", {}),
}


class Recorder(L.LightningModule):
    """Records what the training step receives: (global step, batch hash, batch)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.seen: dict[int, str] = {}
        self.images: list[torch.Tensor] = []

    def training_step(self, batch, batch_idx):
        assert isinstance(batch, torch.Tensor) and batch.dtype == torch.float32
        self.seen[self.global_step] = hashlib.sha1(batch.numpy().tobytes()).hexdigest()
        self.images.append(batch.clone())
        return (self.w * batch.mean()).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit(dm, tmp_path, ckpt_path=None, callbacks=(), **trainer_kw) -> Recorder:
    model = Recorder()
    kw = {"max_epochs": 2, **trainer_kw}
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=bool(callbacks), callbacks=list(callbacks),
                        default_root_dir=tmp_path, num_sanity_val_steps=0, **kw)
    trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path)
    return model


def tiny_net(seed: int = 0) -> TransformerNet:
    """A tiny TransformerNet with its weights nudged off the initialisation, so the output is not flat."""
    torch.manual_seed(seed)
    net = TransformerNet(8, 1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return net.eval()


def make_clip(path: Path, frames: int = 12, size: tuple[int, int] = (64, 48), fps: int = 10, audio: bool = True,
              rotation: int = 0, pix_fmt: str = "yuv420p", codec: str = "libx264", pts: list[int] | None = None) -> Path:
    """A pan across a shipped photo (known motion: ``frames`` crops shifted 2 px apart), with a 440 Hz tone.
    ``pts``: each frame's timestamp in 1/fps units (default 0, 1, 2, ...; uneven steps: a variable frame rate)."""
    import av

    w, h = size
    photo = np.asarray(Image.open(ROOT / "assets" / "sample" / "chelsea.jpg").convert("RGB").resize((w + 2 * frames, h)))
    out = av.open(str(path), "w")
    v = out.add_stream(codec, rate=fps)
    v.width, v.height, v.pix_fmt = w, h, pix_fmt
    if rotation:
        v.set_display_rotation(rotation)
    a = None
    if audio:
        a = out.add_stream("aac", rate=44100)
        a.layout = "mono"
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(photo[:, 2 * i:2 * i + w]), format="rgb24")
        frame.pts = i if pts is None else pts[i]
        for p in v.encode(frame):
            out.mux(p)
    for p in v.encode(None):
        out.mux(p)
    if a is not None:
        n = 44100 * frames // fps
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / 44100)).astype(np.float32)
        for start in range(0, n, 1024):
            chunk = tone[start:start + 1024]
            af = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            af.sample_rate, af.pts = 44100, start
            for p in a.encode(af):
                out.mux(p)
        for p in a.encode(None):
            out.mux(p)
    out.close()
    return path


# Tiny, fast, offline: random VGG weights, 32 px crops, no workers.
TINY = [
    "debug=default",
    "loss.weights=random",
    "model.base_channels=8",
    "model.num_residual_blocks=1",
    "data.image_size=32",
    "data.num_workers=0",
    "style.size=64",
]


def tiny_cfg(tmp_path: Path, *overrides: str):
    return compose("train", [*TINY, f"paths.checkpoints={tmp_path / 'ckpt'}", f"paths.logs={tmp_path / 'logs'}", *overrides])


def write_universal(path: Path, levels=(1, 2, 3, 4, 5), weights: str = "random", seed: int = 0, width: float = 1.0) -> Path:
    """A universal decoders file as DecoderModule writes it (decoders.relu{k}_1.*), untrained (stylenet.universal)."""
    from stylenet.universal.checkpoint import PREFIX, UniversalMeta
    from stylenet.universal.decoder import Decoder, level_layer

    torch.manual_seed(seed)
    sd = {}
    for k in levels:
        sd |= {f"{PREFIX}{level_layer(k)}.{n}": v for n, v in Decoder(k, width=width).state_dict().items()}
    meta = UniversalMeta(encoder={"network": "vgg19", "weights": weights}, levels=tuple(levels), width=width,
                         train={"image_size": 32, "global_step": 0}).to_dict()
    atomic_save({"stylenet": meta, "state_dict": sd}, path)
    return path


def make_zoo(root: Path) -> Path:
    """A zoo of tiny untrained stand-ins for the shipped models, built as `python -m stylenet zoo build NAME
    --from-ckpt` builds them: five-paintings (its five styles, 8 channels) and adain (a relu4_1 decoder)."""
    from stylenet import zoo
    from stylenet.inference.save_pretrained import save_pretrained

    root.mkdir(parents=True, exist_ok=True)
    net = make_multi_checkpoint(root / "five.ckpt", styles=zoo.MODELS["five-paintings"].styles)
    save_pretrained(net, root / "five-paintings")
    save_pretrained(write_universal(root / "adain.ckpt", levels=(4,)), root / "adain", half=True)
    return root


def bomb_png(path: Path, width=30000, height=30000) -> Path:
    """A tiny PNG whose header declares a huge image: the bomb guard must refuse it before decoding."""
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = data[12:29]  # chunk type + 13 bytes of IHDR data
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    path.write_bytes(bytes(data))
    return path


# The web page (tests/demo): a real `python -m stylenet demo` on a free loopback port.
READY = "stylenet demo:"  # the line the command prints once it serves


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DemoServer:
    def __init__(self, proc: subprocess.Popen, url: str):
        self.proc, self.url, self.lines = proc, url, []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self, seconds: float = 120) -> float:
        t0 = time.monotonic()
        while not any(line.startswith(READY) for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() - t0 > seconds:
                raise AssertionError("the demo did not start:\n" + "\n".join(self.lines[-30:]))
            time.sleep(0.1)
        return time.monotonic() - t0
