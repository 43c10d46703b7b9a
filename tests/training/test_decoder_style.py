"""The AdaIN decoder trained to paint (stylenet/training/decoder_style.py, decoder_module.py's style run,
conf/recipe/cpu_adain_style.yaml): the loss, the painting crops, the run, its checkpoint and its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from stylenet.config import ConfigError, compose
from stylenet.data.images import ImageError
from stylenet.files import file_digest
from stylenet.training.decoder_module import DecoderModule
from stylenet.training.decoder_style import (
    STYLE_LAYERS,
    StyleTraining,
    crop_generator,
    load_paintings,
    painting_crops,
    style_terms,
)
from stylenet.training.decoders import train_decoders
from stylenet.universal.checkpoint import read_universal
from stylenet.universal.transforms import adain, adain_batch

TINY = ["decoders.encoder.weights=random", "decoders.levels=[4]", "data.image_size=32", "data.batch_size=2",
        "data.num_workers=0", "data.val_split=1", "trainer.val_check_interval=2", "trainer.limit_val_batches=1", "module.scheduler=null",
        "callbacks.model_checkpoint.every_n_train_steps=2", "callbacks.reconstruction_grid.every_n_steps=2",
        "decoders.init.images=4", "decoders.style.size=48"]


def paintings(tmp: Path) -> list[Path]:
    torch.manual_seed(1)
    tmp.mkdir(parents=True, exist_ok=True)
    out = []
    for name, size in (("stripes.png", (60, 40)), ("blobs.jpg", (40, 70))):
        arr = (torch.rand(size[1], size[0], 3) * 255).byte().numpy()
        out.append(tmp / name)
        Image.fromarray(arr).save(out[-1])
    return out


def cfg(tmp: Path, *overrides: str, styles: list[Path] | None = None):
    styles = paintings(tmp) if styles is None else styles
    listed = ",".join(str(p) for p in styles)
    return compose("decoders", [*TINY, f"paths.checkpoints={tmp / 'ckpt'}", f"paths.logs={tmp / 'logs'}",
                                f"decoders.style.paintings=[{listed}]", *overrides])


def test_batched_adain_is_adain_of_each_photo_with_its_own_painting():
    torch.manual_seed(0)
    content, style = torch.randn(3, 8, 5, 6), torch.randn(3, 8, 4, 4) * 3 + 1
    batched = adain_batch(content, style)
    for i in range(3):
        torch.testing.assert_close(batched[i], adain(content[i], style[i]), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="one painting per photo"):
        adain_batch(content, style[:2])


def test_the_style_loss_is_zero_only_at_the_painting_s_statistics_and_does_not_care_about_units():
    torch.manual_seed(0)
    painting = {layer: torch.rand(2, 4 * (i + 1), 8, 8) * 10 ** i for i, layer in enumerate(STYLE_LAYERS)}
    target = painting["relu4_1"].clone()
    # the same statistics in another arrangement: the positions shuffled
    shuffled = {k: v.flatten(2)[..., torch.randperm(64)].reshape(v.shape) for k, v in painting.items()}
    same = style_terms(shuffled, painting, target)
    assert same["style"].item() == pytest.approx(0, abs=1e-6) and same["content"].item() > 0.1
    exact = style_terms(painting, painting, target)
    assert exact["content"].item() == pytest.approx(0, abs=1e-10)
    other = {k: v * 1.5 + 0.2 for k, v in painting.items()}
    terms = style_terms(other, painting, target)
    assert terms["style"].item() > 0.1
    # relative to the painting's own statistics: the layers' units (10^0 ... 10^3 here) do not weigh them
    scaled = style_terms({k: v * 100 for k, v in other.items()}, {k: v * 100 for k, v in painting.items()}, target * 100)
    assert scaled["style"].item() == pytest.approx(terms["style"].item(), rel=1e-4)


def test_painting_crops_are_drawn_from_the_seed_and_step_and_fit_any_painting(tmp_path):
    thin = tmp_path / "thin.png"
    Image.new("RGB", (200, 20), (200, 10, 10)).save(thin)
    loaded = load_paintings([str(thin)], size=64, crop=32)  # 64x6 would hold no 32 px crop: enlarged to 320x32
    assert min(loaded[0].shape[-2:]) >= 32
    images = [torch.rand(1, 3, 40, 50), torch.rand(1, 3, 64, 33)]
    a = painting_crops(images, 6, 32, crop_generator(3, 7))
    b = painting_crops(images, 6, 32, crop_generator(3, 7))
    c = painting_crops(images, 6, 32, crop_generator(3, 8))
    assert a.shape == (6, 3, 32, 32) and torch.equal(a, b) and not torch.equal(a, c)
    # every crop is a piece of one of the paintings, as it is or flipped
    for piece in a:
        found = False
        for img in images:
            for src in (img[0], img[0].flip(-1)):
                h, w = src.shape[-2:]
                for top in range(h - 31):
                    for left in range(w - 31):
                        found = found or torch.equal(src[:, top:top + 32, left:left + 32], piece)
        assert found


def test_a_style_run_trains_the_adain_decoder_records_its_paintings_and_resumes_exactly(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    metrics, objs = train_decoders(cfg(a, "trainer.max_steps=4"))
    assert {"train/level4/content", "train/level4/style", "train/level4/total", "val/level4/style"} <= set(metrics)
    assert "train/level4/pixel" not in metrics  # Huang & Belongie's loss replaces the reconstruction
    last = a / "ckpt" / "universal" / "last.ckpt"
    decoders, meta = read_universal(last)
    assert sorted(decoders) == [4]
    style = meta.train["style"]
    assert style["paintings"] == [f"stripes:{file_digest(a / 'stripes.png')[:16]}", f"blobs:{file_digest(a / 'blobs.jpg')[:16]}"]
    assert style["weight"] == 1.0 and style["size"] == 48
    rows = objs["module"].reconstruct(torch.rand(2, 3, 32, 32))
    assert len(rows) == 2 and all(r.shape == (2, 3, 32, 32) for r in rows.values())  # each painting's stylisation

    train_decoders(cfg(b, "trainer.max_steps=2"))
    _, objs2 = train_decoders(cfg(b, "trainer.max_steps=4", "ckpt_path=last"))
    assert objs2["trainer"].global_step == 4
    wa = torch.load(last, map_location="cpu", weights_only=True)["state_dict"]
    wb = torch.load(b / "ckpt" / "universal" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    for k in wa:  # the painting crops are a function of the seed and the step: the resumed run draws the same
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-4, atol=1e-5, msg=f"{k} differs after resume")


def test_the_style_term_moves_the_output_towards_the_painting():
    torch.manual_seed(0)
    styles = StyleTraining(("unused",), weight=1.0, size=32)
    module = DecoderModule([4], {"network": "vgg19", "weights": "random"}, optimizer=torch.optim.Adam, image_size=32, style=styles)
    module._paintings = [torch.rand(1, 3, 32, 32) * 0.2 + 0.7]  # a pale painting
    x = torch.rand(2, 3, 32, 32) * 0.3
    with torch.no_grad():
        target = module.encoder(x, layers=["relu4_1"])["relu4_1"]
        for dec in module.decoders.values():
            dec.input_scale.fill_(float(target.pow(2).mean().sqrt()) ** -1)
    opt = torch.optim.Adam(module.decoders.parameters(), lr=1e-3)
    first = None
    for step in range(30):
        opt.zero_grad()
        terms = module.style_level_terms(target, crop_generator(0, step))
        first = terms["style"].item() if first is None else first
        terms["total"].backward()
        opt.step()
    assert terms["style"].item() < 0.75 * first  # measured: 4.18 -> 2.52 in 30 steps


def test_a_style_run_refuses_in_one_line_before_any_work(tmp_path):
    good = paintings(tmp_path)
    with pytest.raises(ConfigError, match=r"relu4_1 decoder alone.*decoders.levels=\[4\]"):
        train_decoders(cfg(tmp_path, "decoders.levels=[1,4]", styles=good))
    with pytest.raises(ImageError, match="nope.jpg"):
        train_decoders(cfg(tmp_path, styles=[good[0], tmp_path / "nope.jpg"]))
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(ImageError, match="notes.jpg"):
        train_decoders(cfg(tmp_path, styles=[tmp_path / "notes.jpg"]))
    with pytest.raises(ConfigError, match="decoders.style.paintings must be a list"):  # one file, not a list
        train_decoders(compose("decoders", [*TINY, f"paths.checkpoints={tmp_path / 'ckpt'}", f"decoders.style.paintings={good[0]}"]))
    for bad in ("nan", "-1"):
        with pytest.raises(ConfigError, match="decoders.style.weight"):
            train_decoders(cfg(tmp_path, f"decoders.style.weight={bad}", styles=good))
    for bad in ("16", "100000"):  # under the 32 px crop; over the painting bound
        with pytest.raises(ConfigError, match="decoders.style.size"):
            train_decoders(cfg(tmp_path, f"decoders.style.size={bad}", styles=good))
    assert not (tmp_path / "ckpt").exists()


def test_resuming_a_reconstruction_run_with_paintings_is_one_line(tmp_path):
    base = [*TINY, f"paths.checkpoints={tmp_path / 'ckpt'}", f"paths.logs={tmp_path / 'logs'}"]
    train_decoders(compose("decoders", [*base, "trainer.max_steps=2"]))
    with pytest.raises(ConfigError, match="trained without a style loss but this run has paintings"):
        train_decoders(cfg(tmp_path, "trainer.max_steps=4", "ckpt_path=last"))


def test_the_adain_style_recipe_is_the_adain_recipe_with_the_five_shipped_paintings():
    adain, style = compose("decoders", ["recipe=cpu_adain"]), compose("decoders", ["recipe=cpu_adain_style"])
    assert list(style.decoders.levels) == [4] and style.trainer.max_steps == adain.trainer.max_steps
    assert style.run_name == "universal_adain_style"  # does not overwrite the reconstruction decoder
    shipped = sorted(Path(p).name for p in style.decoders.style.paintings)
    assert shipped == ["shipwreck.jpg", "starry_night.jpg", "the_scream.jpg", "udnie.jpg", "wave.jpg"]
    assert all(Path(p).is_file() for p in style.decoders.style.paintings)
    assert list(adain.decoders.style.paintings) == []  # the default stays Li et al.'s reconstruction
