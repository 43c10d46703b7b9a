"""SIGKILL during multi-style training and during decoder training, then ``ckpt_path=last``: is the result
bit-identical to an uninterrupted run? Tiny networks, random VGG weights, 16 steps, checkpoints every 4; the
run is killed just after it writes step=8.ckpt.

    python scripts/sigkill_resume.py        # prints, per kind of run: steps, bit-identical, max |diff|
"""
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
WORK = Path(tempfile.mkdtemp(prefix="sigkill-"))
TINY = ["debug=default", "loss.weights=random", "model.base_channels=8", "model.num_residual_blocks=1", "data.image_size=32",
        "data.num_workers=0", "style.size=64"]

def run(cmd, base, extra, kill_at=None):
    args = [PY, *cmd, *extra, f"paths.checkpoints={base}/ckpt", f"paths.logs={base}/logs"]
    if kill_at is None:
        subprocess.run(args, check=True, capture_output=True, cwd=WORK)
        return
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=WORK)
    while p.poll() is None:
        hits = list(Path(base, "ckpt").rglob(kill_at))
        if hits:
            time.sleep(0.3)
            p.send_signal(signal.SIGKILL)
            p.wait()
            print("killed after", hits[0].name)
            return
        time.sleep(0.05)
    print("finished before the kill!")

def weights(base):
    last = next(Path(base, "ckpt").rglob("last.ckpt"))
    ck = torch.load(last, map_location="cpu", weights_only=True)
    return ck["global_step"], {k: v for k, v in ck["state_dict"].items() if not k.startswith("loss.")}

for name, cmd, extra in [
    ("multi-style", [str(ROOT / "train.py")], [*TINY, "styles=[wave,udnie]", "trainer.max_steps=16",
                                               "callbacks.model_checkpoint.every_n_train_steps=4", "trainer.val_check_interval=4"]),
    ("decoders", ["-m", "stylenet", "decoders"], ["decoders.levels=[1,2]", "data.image_size=32", "data.num_workers=0", "data.batch_size=2",
                                                  "trainer.max_steps=16", "callbacks.model_checkpoint.every_n_train_steps=4",
                                                  "trainer.val_check_interval=4", "decoders.encoder.weights=random", "decoders.init.images=0"]),
]:
    a, b = WORK / name / "a", WORK / name / "b"
    t = time.time(); run(cmd, a, extra); print(name, "uninterrupted", round(time.time() - t, 1), "s")
    run(cmd, b, extra, kill_at="step=8.ckpt")
    run(cmd, b, [*extra, "ckpt_path=last"])
    (sa, wa), (sb, wb) = weights(a), weights(b)
    same = sa == sb and wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    worst = max(float((wa[k].float() - wb[k].float()).abs().max()) for k in wa)
    print(name, "steps", sa, sb, "bit-identical:", same, "max |diff|", worst)
