"""The teacher-curve cache (stylenet/teacher/cache.py): keys, which cached curve serves which candidate."""

from __future__ import annotations

import torch

from stylenet.teacher.cache import TeacherCache, clock_parts

PARTS = {"photo": "p", "style": "s", "vgg": "v", "style_size": 48, "size": 40, "loss": {"weights": "random"}, "seed": 0,
         "iterations": 3, "optimizer": "lbfgs", "lr": None, "device": "cpu", "threads": 2}


def _curve(totals):
    return [{"iteration": i, "time": 0.1 * i, "content": 0.0, "style": t, "tv": 0.0, "total": t} for i, t in enumerate(totals)]


def test_every_part_of_the_key_and_the_start_change_the_key(tmp_path):
    base = TeacherCache(tmp_path, PARTS)
    keys = {base.key("noise"), base.key("content")}
    for k, v in [("photo", "q"), ("style", "t"), ("style_size", 64), ("size", 41), ("loss", {"weights": "embedded"}),
                 ("seed", 1), ("iterations", 4), ("optimizer", "adam"), ("lr", 0.1), ("vgg", "other weights"),
                 ("device", "NVIDIA H100 80GB HBM3"), ("threads", 16)]:  # the curve's clock: another machine's times
        keys.add(TeacherCache(tmp_path, {**PARTS, k: v}).key("noise"))
    assert len(keys) == 14


def test_a_complete_curve_serves_every_candidate_a_truncated_one_only_those_it_reached(tmp_path):
    cache = TeacherCache(tmp_path, PARTS)
    assert cache.get("noise", 5.0) is None
    cache.put("noise", _curve([9.0, 5.0, 3.0, 2.0]), torch.rand(1, 3, 8, 8))  # K = 3: all iterations ran
    history, image = cache.get("noise", 0.1)
    assert [r["total"] for r in history] == [9.0, 5.0, 3.0, 2.0] and history[2]["iteration"] == 2 and image.shape == (1, 3, 8, 8)
    cache.put("content", _curve([9.0, 5.0]), torch.rand(1, 3, 8, 8))  # stopped early at a candidate of loss 5
    assert cache.get("content", 6.0) is not None and cache.get("content", 5.0) is not None
    assert cache.get("content", 4.0) is None  # must run again (and replace it)
    assert cache.hits == 3 and cache.runs == 2
    (tmp_path / f"{cache.key('noise')}.csv").write_text("garbage")
    assert cache.get("noise", 0.1) is None  # a damaged entry is a miss, not an error


def test_clock_parts_name_the_device_and_the_threads():
    assert clock_parts(torch.device("cpu")) == {"device": "cpu", "threads": torch.get_num_threads()}


def test_a_curve_that_ended_diverged_serves_though_shorter_than_k(tmp_path):
    cache = TeacherCache(tmp_path, {**PARTS, "iterations": 10})
    cache.put("noise", _curve([9.0, 5.0, 3.0, 1e6]), torch.rand(1, 3, 8, 8))  # left for good at iteration 3
    assert cache.get("noise", 0.1) is not None  # running the teacher again would diverge again
