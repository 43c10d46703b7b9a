"""Several styles in one network (stylenet/training/styles.py, Dumoulin et al. 2017): training, resuming,
adding a style, and the one-line refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import tiny_cfg
from PIL import Image

from stylenet.errors import StylenetError
from stylenet.networks.checkpoint import load_network, read_checkpoint
from stylenet.networks.transformer import set_mix
from stylenet.training.build import train

THREE = "styles=[wave,udnie,the_scream]"


def test_one_network_trains_three_styles_and_resumes_exactly(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    metrics, objs = train(tiny_cfg(a, THREE, "trainer.max_steps=6", "trainer.val_check_interval=3", "data.val_split=2"))
    folder = Path(objs["checkpoint_dir"])
    assert folder == a / "ckpt" / "wave+udnie+the_scream"
    meta = read_checkpoint(folder / "last.ckpt")["stylenet"]
    assert meta["arch"]["num_styles"] == 3
    assert [s["name"] for s in meta["styles"]] == ["wave", "udnie", "the_scream"]
    assert all(s["size"] == 64 for s in meta["styles"])  # the run's style.size applies to every style
    # Validation per style, and their mean.
    for name in ("wave", "udnie", "the_scream"):
        assert f"val/{name}/style" in metrics
    mean = sum(metrics[f"val/{n}/style"] for n in ("wave", "udnie", "the_scream")) / 3
    assert metrics["val/style"] == pytest.approx(mean, rel=1e-5)
    # The styles are different rows that trained apart: the same photo comes out differently per style.
    net, _ = load_network(folder / "last.ckpt")
    x = torch.rand(1, 3, 32, 32)
    outs = []
    for i in range(3):
        set_mix(net, torch.eye(3)[i])
        outs.append(net(x))
    assert (outs[0] - outs[1]).abs().max() > 1e-4 and (outs[1] - outs[2]).abs().max() > 1e-4

    # Interrupted at 3 and resumed: the same weights as straight through (the style draws follow the step).
    common = (THREE, "trainer.val_check_interval=3", "data.val_split=2")
    train(tiny_cfg(b, *common, "trainer.max_steps=3", "callbacks.model_checkpoint.every_n_train_steps=3"))
    train(tiny_cfg(b, *common, "trainer.max_steps=6", "ckpt_path=last"))
    wa = read_checkpoint(folder / "last.ckpt")["state_dict"]
    wb = read_checkpoint(b / "ckpt" / "wave+udnie+the_scream" / "last.ckpt")["state_dict"]
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-4, atol=1e-5, msg=f"{k} differs after resume")


def test_every_batch_mixes_styles_and_each_sample_is_scored_against_its_own(tmp_path):
    _, objs = train(tiny_cfg(tmp_path, THREE, "trainer.max_steps=1"))
    module = objs["module"]
    drawn = [module.choose_styles(4).tolist() for _ in range(1)]
    assert sorted(set(drawn[0])) == [0, 1, 2]  # 4 samples, 3 styles: all of them in one batch
    # Per-sample targets: a batch of one style scores what that style alone scores.
    loss = module.loss
    x = torch.rand(3, 3, 32, 32)
    y = torch.rand(3, 3, 32, 32)
    mixed = loss(y, x, style_index=torch.tensor([0, 1, 2]))["style"]
    alone = [loss(y[i:i + 1], x[i:i + 1], style_index=torch.tensor([i]))["style"] for i in range(3)]
    assert mixed == pytest.approx(float(sum(alone) / 3), rel=1e-5)
    assert len({round(float(a), 6) for a in alone}) == 3


def test_the_final_samples_and_the_grid_show_every_style(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (40, 30), (200, 100, 50)).save(photos / "p.jpg")
    train(tiny_cfg(tmp_path, "styles=[wave,udnie]", "trainer.max_steps=2", f"callbacks.final_samples.photos={photos}"))
    out = tmp_path / "ckpt" / "wave+udnie" / "samples"
    assert sorted(p.name for p in out.iterdir()) == ["p_udnie.jpg", "p_wave.jpg"]


def test_a_painting_path_is_a_style_too(tmp_path):
    painting = tmp_path / "my painting.png"
    Image.new("RGB", (64, 48), (10, 200, 30)).save(painting)
    _, objs = train(tiny_cfg(tmp_path, f"styles=[wave,'{painting}']", "trainer.max_steps=1"))
    meta = objs["module"].stylenet_meta()
    assert [s["name"] for s in meta["styles"]] == ["wave", "my painting"]
    assert meta["styles"][1]["image"] == str(painting)


def test_adding_a_style_trains_only_its_rows(tmp_path):
    train(tiny_cfg(tmp_path, "styles=[wave,udnie]", "trainer.max_steps=2"))
    base = tmp_path / "ckpt" / "wave+udnie" / "last.ckpt"
    _, objs = train(tiny_cfg(tmp_path, "styles=[wave,udnie,the_scream]", f"init_from={base}", "module.new_styles_only=true",
                             "trainer.max_steps=3"))
    old = read_checkpoint(base)["state_dict"]
    new = read_checkpoint(tmp_path / "ckpt" / "wave+udnie+the_scream" / "last.ckpt")
    assert new["stylenet"]["train"]["trained_styles"] == ["the_scream"]
    sd = new["state_dict"]
    changed_rows = 0
    for k, v in sd.items():
        if k.endswith((".scale", ".shift")):
            torch.testing.assert_close(v[:2], old[k][:2], rtol=0, atol=0, msg=f"{k}: an old style's row moved")
            changed_rows += int(not torch.equal(v[2], old[k][:2].mean(0)))
        else:
            torch.testing.assert_close(v, old[k], rtol=0, atol=0, msg=f"{k}: a shared weight moved")
    assert changed_rows > 0  # the new style did train


def test_a_one_style_network_is_fine_tuned_from_all_its_weights(tmp_path):
    train(tiny_cfg(tmp_path / "base", "trainer.max_steps=2"))
    base = tmp_path / "base" / "ckpt" / "wave" / "last.ckpt"
    old = read_checkpoint(base)["state_dict"]
    # lr 0: the run starts exactly where the base network ended (nothing re-initialised, nothing left out) ...
    train(tiny_cfg(tmp_path / "same", f"init_from={base}", "module.optimizer.lr=0", "trainer.max_steps=1"))
    same = read_checkpoint(tmp_path / "same" / "ckpt" / "wave" / "last.ckpt")["state_dict"]
    assert same.keys() == old.keys()
    for k in old:
        torch.testing.assert_close(same[k], old[k], rtol=0, atol=0, msg=k)
    # ... and every weight trains from there, for another painting too
    train(tiny_cfg(tmp_path / "udnie", f"init_from={base}", "style=udnie", "trainer.max_steps=2"))
    tuned = read_checkpoint(tmp_path / "udnie" / "ckpt" / "udnie" / "last.ckpt")
    assert tuned["stylenet"]["style"]["name"] == "udnie"
    conv = [k for k in old if k.endswith(".weight") and old[k].dim() == 4]
    assert conv and all(not torch.equal(tuned["state_dict"][k], old[k]) for k in conv)


def test_fine_tuning_from_another_kind_of_network_is_one_line(tmp_path):
    train(tiny_cfg(tmp_path / "multi", "styles=[wave,udnie]", "trainer.max_steps=1"))
    multi = tmp_path / "multi" / "ckpt" / "wave+udnie" / "last.ckpt"
    with pytest.raises(StylenetError, match=r"holds a multi-style network \(styles=\[wave,udnie\]\); a one-style run") as e:
        train(tiny_cfg(tmp_path / "a", f"init_from={multi}"))
    assert "\n" not in str(e.value)
    train(tiny_cfg(tmp_path / "one", "trainer.max_steps=1"))
    one = tmp_path / "one" / "ckpt" / "wave" / "last.ckpt"
    with pytest.raises(StylenetError, match=r"set model\.\* to match"):
        train(tiny_cfg(tmp_path / "b", f"init_from={one}", "model.num_residual_blocks=2"))
    assert not (tmp_path / "a" / "ckpt").exists() and not (tmp_path / "b" / "ckpt").exists()


@pytest.mark.parametrize("overrides, message", [
    (("styles=[wave,nope]",), "'nope' is neither a style"),
    (("styles=[wave,wave]",), "names wave more than once"),
    (("styles=[wave]",), "needs two or more"),
    (("styles=wave",), "is not a list"),
    (("module.new_styles_only=true", "styles=[wave,udnie]"), "give init_from=CKPT"),
    (("init_from=x.ckpt",), r"init_from=x.ckpt: no such checkpoint; train the network to start from first"),
    (("styles=[wave,udnie]", "callbacks=with_teacher"), "the teacher callback scores one-style networks"),
    (("style.size=100000",), r"style.size=100000 \(wave\) must be a number of pixels from 16 to 4096"),
])
def test_bad_style_lists_are_one_line_before_any_work(tmp_path, overrides, message):
    with pytest.raises(StylenetError, match=message) as e:
        train(tiny_cfg(tmp_path, *overrides))
    assert "\n" not in str(e.value)
    assert not (tmp_path / "ckpt").exists()


def test_resuming_with_another_style_list_or_adding_to_the_wrong_base_is_refused(tmp_path):
    train(tiny_cfg(tmp_path, "styles=[wave,udnie]", "trainer.max_steps=1"))
    base = tmp_path / "ckpt" / "wave+udnie" / "last.ckpt"
    with pytest.raises(StylenetError, match=r"trained with styles=\[wave,udnie\], but this run asks for styles=\[udnie,wave\]"):
        train(tiny_cfg(tmp_path, "styles=[udnie,wave]", f"ckpt_path={base}"))
    with pytest.raises(StylenetError, match=r"list them first, in that order"):
        train(tiny_cfg(tmp_path, "styles=[udnie,wave,the_scream]", f"init_from={base}"))
    train(tiny_cfg(tmp_path / "one", "trainer.max_steps=1"))
    with pytest.raises(StylenetError, match="holds a one-style network"):
        train(tiny_cfg(tmp_path, "styles=[wave,udnie]", "run_name=from_one", f"init_from={tmp_path / 'one' / 'ckpt' / 'wave' / 'last.ckpt'}"))
    one = tmp_path / "one" / "ckpt" / "wave" / "last.ckpt"  # a wave network resumed as udnie would go on silently
    with pytest.raises(StylenetError, match=r"was trained on style=wave, but this run asks for style=udnie; resume with style=wave"):
        train(tiny_cfg(tmp_path / "two", "style=udnie", "trainer.max_steps=2", f"ckpt_path={one}"))
    assert not (tmp_path / "two" / "ckpt").exists()


def test_a_checkpoint_with_non_finite_weights_is_not_resumed(tmp_path):
    """In bounds otherwise, a NaN weight would train on NaN from the first step: refused before any work."""
    import torch

    train(tiny_cfg(tmp_path, "trainer.max_steps=1"))
    last = tmp_path / "ckpt" / "wave" / "last.ckpt"
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    name = next(k for k, v in ckpt["state_dict"].items() if k.startswith("net.") and v.is_floating_point())
    ckpt["state_dict"][name].view(-1)[0] = float("nan")
    torch.save(ckpt, tmp_path / "nan.ckpt")
    with pytest.raises(StylenetError, match=rf"nan.ckpt holds non-finite weights \({name}\): it is damaged"):
        train(tiny_cfg(tmp_path / "b", "trainer.max_steps=2", f"ckpt_path={tmp_path / 'nan.ckpt'}"))
    assert not (tmp_path / "b" / "ckpt").exists()
