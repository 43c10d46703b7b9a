"""Hydra/OmegaConf glue shared by every command: the config folder, composing outside ``@hydra.main``,
paths given in a config, and Hydra's composition errors as one line."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.errors import HydraException, InstantiationException
from hydra.utils import instantiate as hydra_instantiate
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from stylenet.errors import StylenetError, first_line
from stylenet.files import ROOT, check_writable_dir

CONFIG_DIR = ROOT / "conf"

if not OmegaConf.has_resolver("stylenet_root"):
    # `${stylenet_root:}` in conf/paths: the repository, whatever the working directory.
    OmegaConf.register_new_resolver("stylenet_root", lambda: str(ROOT))


def run_name(style_name: Any, styles: Any = None) -> str:
    """``run_name``'s default (conf/train.yaml): the style's name, or a multi-style run's names joined by '+'
    (a painting given by its path counts by its file name)."""
    if not styles:
        return str(style_name)
    return "+".join(Path(str(s)).stem for s in styles)


if not OmegaConf.has_resolver("stylenet_run_name"):
    OmegaConf.register_new_resolver("stylenet_run_name", run_name)


def fast_precision(accelerator: str = "auto") -> str:
    """``${stylenet_fast_precision:${trainer.accelerator}}``: bf16 autocast where the device computes bf16 natively
    (AMX or AVX-512 BF16 CPUs, Ampere and later GPUs), else fp32. A recipe that names it runs on every machine at
    that machine's speed: bf16 was 1.6x faster a step with AMX and 50x slower on an AVX2 CPU (docs/performance.md)."""
    import torch  # only when a config asks: `--help` and config errors stay free of torch

    from stylenet.runtime import accelerator_device, native_half

    return "bf16-mixed" if native_half(accelerator_device(accelerator), torch.bfloat16) else "32-true"


if not OmegaConf.has_resolver("stylenet_fast_precision"):
    OmegaConf.register_new_resolver("stylenet_fast_precision", fast_precision)


# Options of a group that belong to another command, left out of a command's --help.
HIDDEN_OPTIONS = {"train": ("callbacks/decoders",), "decoders": ("callbacks/default", "callbacks/with_teacher")}


def command_groups(command: str) -> str:
    """The config groups ``conf/<command>.yaml`` composes from, one ``group: option, ...`` line each: its
    ``--help`` (conf/hydra/help/stylenet.yaml). Hydra's own list names every folder under conf/, so
    ``train.py --help`` offered the decoders' recipes. Left out: the groups the command's defaults do not name
    (a primary config it extends counts: bench extends train), options whose name starts with ``_`` (bases
    the others extend) and :data:`HIDDEN_OPTIONS`."""
    hidden = HIDDEN_OPTIONS.get(command, ())
    lines = []
    for group in sorted(_default_groups(command)):
        options = [p.stem for p in sorted((CONFIG_DIR / group).glob("*.yaml"))
                   if not p.stem.startswith("_") and f"{group}/{p.stem}" not in hidden]
        lines.append(f"{group}: {', '.join(options)}")
    return "\n".join(lines)


def _default_groups(config: str) -> set[str]:
    groups: set[str] = set()
    for entry in OmegaConf.load(CONFIG_DIR / f"{config}.yaml").get("defaults") or []:
        if OmegaConf.is_dict(entry):
            names = (str(k).removeprefix("override ").strip() for k in entry)
            groups |= {g for g in names if not g.startswith("hydra/") and (CONFIG_DIR / g).is_dir()}
        elif str(entry) != "_self_" and (CONFIG_DIR / f"{entry}.yaml").is_file():
            groups |= _default_groups(str(entry))
    return groups


if not OmegaConf.has_resolver("stylenet_groups"):
    OmegaConf.register_new_resolver("stylenet_groups", command_groups)


class ConfigError(StylenetError, ValueError):
    """A config that cannot be composed or holds a value no run can use; the message names the key."""


def compose(config_name: str = "train", overrides: list[str] | None = None):
    """Compose a config outside @hydra.main (tests, notebooks, bench). Resolves hydra-free keys lazily."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=overrides or [], return_hydra_config=False)


# Keys that moved under the `module:` node (the LightningModule's settings in one node, built by
# instantiate): an old command line gets the new name in its error. Both ways an old key arrives are
# answered here: `optimizer.lr=...` does not compose (compose_error), `+optimizer.lr=...` composes and
# would be ignored (check_moved_keys, called by the runs' checks).
MOVED_TO_MODULE = ("optimizer", "scheduler", "scheduler_interval", "style_warmup_steps", "channels_last", "compile", "compile_loss")


def moved_key_error(override_key: str) -> str | None:
    """The line for an override of a key that moved under ``module:`` (None for any other key)."""
    top = override_key.lstrip("+~").split(".", 1)[0]
    if top not in MOVED_TO_MODULE:
        return None
    key = override_key.lstrip("+~")
    return f"there is no key {key} any more: it moved to module.{key} (write module.{key}=...)"


def check_moved_keys(cfg) -> None:
    """A composed config that still holds a moved key at the top level (added with ``+``): refused, not ignored."""
    if stale := [k for k in MOVED_TO_MODULE if k in cfg]:
        raise ConfigError(f"{', '.join(stale)} moved under module: (e.g. module.{stale[0]}); the top-level key is not read")


def compose_error(e: BaseException) -> str:
    """Hydra's and OmegaConf's (often multi-line) composition errors as one line."""
    text = str(e).strip()
    moved = re.search(r"override '\+?(\w+(?:\.\w+)*)'", text)
    if moved and (line := moved_key_error(moved.group(1))):
        return line
    text = text.split("Config search path:")[0].strip()  # where Hydra looked: noise in a one-line error
    if "hydra/sweeper" in text and "optuna" in text:  # hparams_search=... without the plugin installed
        return "hparams_search needs Hydra's Optuna sweeper, which is not installed: pip install -e '.[search]'"
    if "Got NoneType" in text:  # `logger=null` on the command line: Hydra wants `~group` to drop a group
        return f"{text.splitlines()[0]}; to switch a config group off, delete it with ~GROUP (e.g. ~logger)"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1 and lines[1].startswith("Available options in"):  # an unknown option of a group
        options = [o for o in lines[2:] if not o.startswith("_")]  # _base files are not options
        return f"{lines[0]}; choose one of: {', '.join(options)}"
    return "; ".join(lines) if lines else type(e).__name__


def check_composes(config_name: str, overrides: list[str]) -> None:
    """Raise :class:`ConfigError` (one line) if ``overrides`` do not compose with ``config_name``, or if
    Hydra could not create its run folder (``hydra.run.dir``, e.g. below ``paths.logs``): Hydra would fail
    there with chained tracebacks before the command starts."""
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = hydra_compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    except (HydraException, OmegaConfBaseException, ValueError) as e:
        raise ConfigError(compose_error(e)) from None
    try:
        run_dir = OmegaConf.select(cfg, "hydra.run.dir", throw_on_missing=True)
    except OmegaConfBaseException:  # refers to what only a running Hydra knows: it will say so itself
        return
    # Only a folder Hydra has to create: "." (gatys, evaluate) is used as it is, writable or not.
    if run_dir and not Path(str(run_dir)).exists():
        key = "paths.logs (or hydra.run.dir)" if OmegaConf.select(cfg, "paths.logs") else "hydra.run.dir"
        check_writable_dir(run_dir, "run folder (hydra.run.dir)", f"set {key} to a folder you can write")


def sweep_jobs(overrides: list[str]) -> tuple[list[list[str]], set[str]]:
    """The overrides of every job of a ``-m`` sweep (``a=1,2 b=x,y``: four jobs), expanded as Hydra's basic
    sweeper expands them (its own function, so the jobs checked are the jobs it runs), and the swept keys."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
        swept = {o.get_key_element() for o in parsed if o.is_sweep_override()}
        return BasicSweeper.split_arguments(parsed, None)[0], swept
    except (HydraException, OmegaConfBaseException) as e:
        raise ConfigError(compose_error(e)) from None


def check_sweep(config_name: str, overrides: list[str], check: Callable[[Any], None] | None = None) -> None:
    """Every job of a ``-m`` sweep composes and passes ``check`` (the run's checks before work), before Hydra
    starts the first: a bad value in the third job is one line now, not after two trainings."""
    jobs, swept = sweep_jobs(overrides)
    for i, job in enumerate(jobs, 1):
        try:
            check_composes(config_name, job)
            if check is not None:
                check(compose(config_name, job))
        except StylenetError as e:
            values = " ".join(o for o in job if o.split("=", 1)[0] in swept)  # what tells this job from the others
            raise ConfigError(f"sweep job {i} of {len(jobs)} ({values}): {e}") from None


def user_path(p: str | Path) -> Path:
    """A path from a config: absolute, or relative to where the command was run (hydra.job.chdir is false,
    so the working directory is the user's)."""
    return Path(str(p)).expanduser()


def instantiate(node, key: str = "a config node", **kwargs):
    """hydra.utils.instantiate, with what the target refused as one :class:`ConfigError` line naming the
    config ``key`` (Hydra wraps it in a multi-line "Error in call to target"); a user error raised by the
    target keeps its own message."""
    try:
        return hydra_instantiate(node, **kwargs)
    except InstantiationException as e:
        if isinstance(e.__cause__, StylenetError):
            raise e.__cause__ from None
        raise ConfigError(f"{key}: {first_line(e.__cause__ or e)}; fix {key}.* on the command line") from None
