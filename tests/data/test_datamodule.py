"""The training data module: every image mode, bad files skipped and reported, sources, order, exact resume."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from helpers import BLUE, GREEN, MODES, RED, YELLOW, Recorder, batches, bomb_png, colors, datamodule, epochs, fit, noise, solid
from lightning.pytorch.callbacks import ModelCheckpoint
from PIL import Image

from stylenet.config import compose
from stylenet.data.datamodule import SKIPPED_FILE, DataError, default_workers

pytestmark = [  # Lightning's notes about the tiny test module, not about the data
    pytest.mark.filterwarnings("ignore:You passed in a `val_dataloader` but have no `validation_step`"),
    pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`"),
]


def make_mixed_folder(root: Path) -> tuple[set, set]:
    """Good photos (distinct colours, one tiny) and every kind of bad file; returns (good colours, bad paths)."""
    solid(root / "a.png", RED)
    solid(root / "sub" / "b.jpg", GREEN, quality=95)
    solid(root / "sub" / "deeper" / "c.bmp", BLUE)
    solid(root / "tiny.png", YELLOW, size=(3, 2))
    bad = set()
    corrupt = root / "corrupt.jpg"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    full = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(full, "PNG")
    truncated = root / "sub" / "truncated.png"
    truncated.write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    text = root / "notes_really.png"
    text.write_text("this is not an image\n")
    bomb = bomb_png(root / "sub" / "bomb.png")
    empty = root / "empty.jpg"
    empty.write_bytes(b"")
    bad |= {str(corrupt), str(truncated), str(text), str(bomb), str(empty)}
    (root / "README.txt").write_text("not listed")  # non-image extensions: ignored, counted
    (root / "sub" / "labels.csv").write_text("a,b\n")
    (root / ".DS_Store").write_bytes(b"\0\0")
    return {RED, GREEN, BLUE, YELLOW}, bad


class RankRecorder(Recorder):
    """Under DDP each rank is a process: write what it sees to a file per rank."""

    def __init__(self, out: Path):
        super().__init__()
        self.out = out

    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        with open(self.out / f"rank{self.global_rank}.jsonl", "a") as f:
            means = [round(m, 6) for m in batch.mean((1, 2, 3)).tolist()]  # one number per photo
            f.write(json.dumps([self.global_step, self.seen[self.global_step], means]) + "\n")
        return loss


@pytest.mark.parametrize("mode", list(MODES))
def test_every_pillow_mode_loads_as_float_rgb_in_unit_range(tmp_path, mode):
    name, save = MODES[mode]
    if mode in ("I;16", "I", "F"):
        dtype = {"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]
        arr = np.full((20, 24), 40000 if mode != "F" else 200.0, dtype=dtype)
        img = Image.fromarray(arr)
        if mode == "I;16":
            img = img.convert("I;16") if img.mode != "I;16" else img
        (tmp_path / "d").mkdir()
        img.save(tmp_path / "d" / name)
    else:
        solid(tmp_path / "d" / name, (200, 100, 50), mode=mode, **save)
    dm = datamodule(tmp_path / "d", batch_size=1)
    (x,) = batches(dm)
    assert x.shape == (1, 3, 16, 16) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1 and x.max() > 0.1  # [0, 1], never 0-255, not black
    assert not dm.skipped


def test_exif_orientation_is_honoured(tmp_path):
    # Stored 64×32, top half red / bottom half blue; orientation 6 = display rotated 90° clockwise:
    # 32×64 with blue on the left and red on the right.
    img = Image.new("RGB", (64, 32), RED)
    img.paste(BLUE, (0, 16, 64, 32))
    exif = Image.Exif()
    exif[0x0112] = 6
    (tmp_path / "d").mkdir()
    img.save(tmp_path / "d" / "rotated.jpg", exif=exif, quality=95)
    (x,) = batches(datamodule(tmp_path / "d", image_size=32, batch_size=1, random_crop=False))
    left, right = x[0, :, :, :12].mean((1, 2)), x[0, :, :, 20:].mean((1, 2))
    assert left[2] > 0.8 and left[0] < 0.2, "left half should be blue"
    assert right[0] > 0.8 and right[2] < 0.2, "right half should be red"


def test_small_photos_are_upscaled_to_the_crop_and_big_ones_reduced(tmp_path):
    solid(tmp_path / "d" / "tiny.png", GREEN, size=(5, 3))
    solid(tmp_path / "d" / "big.png", BLUE, size=(400, 300))
    x = torch.cat(batches(datamodule(tmp_path / "d", image_size=32, resize=40)))
    assert x.shape == (2, 3, 32, 32)
    assert colors(x) == {GREEN, BLUE}


def test_a_resize_range_draws_each_crop_at_its_own_scale_repeatably_and_validates_at_the_low_end():
    from stylenet.data.datasets import CropTransform, crop_rng

    # a photo whose left half is a fine checkerboard: a crop's scale shows in how many squares it holds
    arr = np.zeros((300, 400, 3), dtype=np.uint8)
    arr[:, :200] = ((np.indices((300, 200)).sum(0) // 4) % 2 * 255)[..., None]
    img = Image.fromarray(arr)
    t = CropTransform(32, (32, 300))
    crops = [t(img, crop_rng(0, 0, i)) for i in range(40)]
    assert all(c.shape == (3, 32, 32) for c in crops)
    assert torch.equal(t(img, crop_rng(0, 0, 7)), crops[7])  # a function of the key: exact resume
    flat = sum(bool(c.std() < 0.01) for c in crops)
    assert 5 < flat < 35  # zoomed in on one half or the other: some crops flat, others textured
    # one short side: the crops before ranges existed, draw for draw
    assert torch.equal(CropTransform(32, (40, 40))(img, crop_rng(1, 2, 3)), CropTransform(32, 40)(img, crop_rng(1, 2, 3)))
    # validation: the centre at the low end
    assert torch.equal(CropTransform(32, (40, 300), random=False)(img), CropTransform(32, 40, random=False)(img))


def test_bad_files_are_skipped_and_each_reported_while_training_goes_on(tmp_path, caplog):
    good, bad = make_mixed_folder(tmp_path / "photos")
    dm = datamodule(tmp_path / "photos", num_workers=2, log_dir=str(tmp_path / "logs"), random_crop=False)
    with caplog.at_level(logging.WARNING, logger="stylenet.data.datamodule"):
        model = fit(dm, tmp_path, max_epochs=2)
    seen = colors(torch.cat(model.images))
    assert seen == good  # only good photos, every one of them (the tiny one upscaled)
    assert set(dm.skipped) == bad  # found in worker processes, reported by the main process
    assert dm.ignored_files == 3  # README.txt, labels.csv, .DS_Store
    for path in bad:  # one warning per bad file, though it is met every epoch
        assert sum(path in r.getMessage() for r in caplog.records if "skipping" in r.getMessage()) == 1
    assert "decompression-bomb" in dm.skipped[str(tmp_path / "photos" / "sub" / "bomb.png")]
    report = (tmp_path / "logs" / SKIPPED_FILE).read_text()
    assert report.startswith(f"{len(bad)} unreadable") and all(p in report for p in bad)
    assert dm.skipped_report().splitlines()[1:] == report.strip().splitlines()[1:]


def test_empty_missing_or_unreadable_folders_fail_before_training_with_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="no images .* under .*empty") as e:
        datamodule(tmp_path / "empty").setup("fit")
    assert "\n" not in str(e.value)
    with pytest.raises(DataError, match="does not exist"):
        datamodule(tmp_path / "nowhere").setup("fit")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.jpg").write_bytes(b"nope")
    (tmp_path / "junk" / "b.png").write_bytes(b"nope")
    with pytest.raises(DataError, match="none of the 2 images"):
        datamodule(tmp_path / "junk").setup("fit")
    solid(tmp_path / "ok" / "a.png")
    (tmp_path / "badval").mkdir()
    (tmp_path / "badval" / "v.jpg").write_bytes(b"nope")
    with pytest.raises(DataError, match="validation images"):
        datamodule(tmp_path / "ok", val_path=str(tmp_path / "badval")).setup("fit")
    for resize in (32, [32, 128], [128, 64], [64, 9000], "big", [64, 96, 128]):  # one line, before any photo is read
        with pytest.raises(DataError, match=r"data.resize=.*(the crop must fit|low first)"):
            datamodule(tmp_path / "ok", image_size=64, resize=resize)


def test_order_and_crops_are_a_function_of_seed_and_epoch(tmp_path):
    for i in range(8):
        noise(tmp_path / "d" / f"{i}.png", i)
    run = lambda seed, workers=0: [[b.numpy().tobytes() for b in epoch]
                                   for epoch in epochs(datamodule(tmp_path / "d", seed=seed, num_workers=workers), 2)]
    first, second = run(0)
    assert run(0) == [first, second]
    assert first != second  # a new permutation (and crops) each epoch
    assert sorted(map(len, first)) == sorted(map(len, second))
    assert run(1)[0] != first
    assert run(0, workers=2) == [first, second]  # worker processes do not change a single crop


def test_val_split_is_deterministic_disjoint_and_val_images_are_fixed(tmp_path):
    for i in range(10):
        solid(tmp_path / "d" / f"{i}.png", (i * 20, 0, 0))
    a, b = datamodule(tmp_path / "d", val_split=0.3), datamodule(tmp_path / "d", val_split=3)
    a.setup("fit"), b.setup("fit")
    train = set(a.train_set.table["path"])
    val = set(a.val_set.table["path"])
    assert len(val) == 3 and len(train) == 7 and not train & val
    assert val == set(b.val_set.table["path"])
    grid = a.val_images(2)
    assert grid.shape == (2, 3, 16, 16) and torch.equal(grid, a.val_images(2))
    grid.zero_()  # a copy: the caller may modify it
    assert a.val_images(2).max() > 0
    assert colors(a.val_images(3)) == colors(torch.stack([a.val_set[i]["image"] for i in range(3)]))
    assert len(a.val_dataloader()) == 2
    with pytest.raises(DataError, match="leaves no training photos"):
        datamodule(tmp_path / "d", val_split=10).setup("fit")


@pytest.mark.parametrize(
    "num_workers,trainer_kw",
    [(0, {"max_epochs": 2}), (0, {"max_epochs": -1, "max_steps": 10}), (2, {"max_epochs": 2})],
    ids=["epochs", "max_steps", "workers"],
)
def test_resume_from_checkpoint_sees_the_batches_an_uninterrupted_run_sees(tmp_path, num_workers, trainer_kw):
    for i in range(10):
        noise(tmp_path / "d" / f"{i:02d}.png", i)
    make = lambda: datamodule(tmp_path / "d", num_workers=num_workers)  # 5 batches of 2 per epoch
    every_step = ModelCheckpoint(dirpath=tmp_path / "ckpt", filename="{step}", every_n_train_steps=1, save_top_k=-1)
    # saved by on_train_epoch_end: Lightning resumes without loader state and draws the epoch from set_epoch
    every_epoch = ModelCheckpoint(dirpath=tmp_path / "ckpt", filename="{epoch}", every_n_epochs=1, save_top_k=-1,
                                  save_on_train_epoch_end=True)
    full = fit(make(), tmp_path, callbacks=[every_step, every_epoch], **trainer_kw).seen
    assert len(full) == 10 and len(set(full.values())) == 10
    # mid epoch 0, after the last batch of epoch 0, mid epoch 1, at the end of epoch 0
    for name, step in [("step=3", 3), ("step=5", 5), ("step=7", 7), ("epoch=0", 5)]:
        resumed = fit(make(), tmp_path, ckpt_path=tmp_path / "ckpt" / f"{name}.ckpt", **trainer_kw).seen
        assert resumed == {s: h for s, h in full.items() if s >= step}, f"resumed from {name}"


@pytest.mark.slow
def test_ddp_ranks_see_disjoint_photos_and_resume_exactly(tmp_path):
    for i in range(12):
        noise(tmp_path / "d" / f"{i:02d}.png", i)

    def run(name, callbacks=(), ckpt_path=None):
        out = tmp_path / name
        out.mkdir()
        trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False, max_epochs=2,
                            enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                            enable_checkpointing=bool(callbacks), callbacks=list(callbacks), default_root_dir=tmp_path)
        trainer.fit(RankRecorder(out), datamodule=datamodule(tmp_path / "d", num_workers=1), ckpt_path=ckpt_path)
        lines = [(out / f"rank{r}.jsonl").read_text().splitlines() for r in (0, 1)]
        return [{step: (digest, means) for step, digest, means in map(json.loads, rank)} for rank in lines]

    ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", filename="{step}", every_n_train_steps=1, save_top_k=-1)
    full = run("full", [ckpt])  # 12 photos, 2 ranks, batches of 2: 3 steps per epoch
    assert len(full[0]) == len(full[1]) == 6
    for epoch in (range(3), range(3, 6)):  # in an epoch the two ranks train on different photos
        photos = [{m for step in epoch for m in full[r][step][1]} for r in (0, 1)]
        assert len(photos[0]) == len(photos[1]) == 6 and not photos[0] & photos[1]
    resumed = run("resumed", ckpt_path=tmp_path / "ckpt" / "step=2.ckpt")
    for r in (0, 1):
        assert resumed[r] == {s: v for s, v in full[r].items() if s >= 2}


def test_the_sample_data_holds_out_a_validation_photo_and_still_fills_the_grid():
    """data=sample (the first README command's data): one photo held out, so the run logs validation losses;
    the sample grid shows the held-out photo first, then training photos."""
    from stylenet.config import instantiate

    cfg = compose("train", ["experiment=quick", "data.num_workers=0", "data.image_size=32"])
    dm = instantiate(cfg.data, "data")
    dm.setup("fit")
    assert len(dm.val_set) == 1 and len(dm.train_set) == 4
    assert len(dm.val_dataloader()) == 1 and cfg.trainer.limit_val_batches > 0
    grid = dm.val_images(4)
    assert grid.shape == (4, 3, 32, 32)
    assert torch.equal(grid[0], dm.val_set[0]["image"])


@pytest.mark.parametrize("key, value", [("batch_size", 0), ("num_workers", -1), ("num_val_images", -2)])
def test_each_bad_count_names_its_key(tmp_path, key, value):
    with pytest.raises(DataError, match=rf"^data.{key}={value} must be >= {1 if key == 'batch_size' else 0}$"):
        datamodule(tmp_path, **{key: value})


@pytest.mark.parametrize("cpus, workers", [(1, 1), (2, 2), (3, 3), (64, 4)])
def test_the_default_loader_processes_follow_the_cpus_this_process_may_use(monkeypatch, cpus, workers):
    """4 workers on 2 cores made torch warn at every run and only added switching."""
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    assert default_workers() == workers
    assert compose("train", ["data=folder", "data.path=x"]).data.num_workers is None  # null in conf: the default
