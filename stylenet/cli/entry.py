"""The one way a command starts and ends: its error line, its exit code and its logging.

Every command (train, infer, gatys, evaluate, bench) runs through :func:`run_argv` (argparse-style or
plain argv) or :func:`hydra_command` (a Hydra task). A :class:`~stylenet.errors.StylenetError` is one line on
stderr and an exit code, never a traceback; anything else is a bug and keeps its traceback. (What a config
node's target refuses becomes one too, in :func:`stylenet.config.instantiate`.)

Exit codes follow the parser the command's users know: argparse exits 2 on a bad command line, so infer.py
does too; Hydra exits 1 on its errors, so the Hydra commands do too. 1 also means "some inputs failed";
130 an interrupt.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from stylenet.errors import StylenetError

INTERRUPTED = 130


class UsageError(StylenetError, ValueError):
    """A problem with the command line, reported in one line before any work (every command module may raise it)."""


def report(e: BaseException, prog: str | None = None) -> None:
    """The error line: ``[prog: ]error: message``."""
    print(f"{prog + ': ' if prog else ''}error: {e}", file=sys.stderr, flush=True)


def run_argv(main: Callable[[list[str]], int | None], argv: Sequence[str], *, prog: str | None, usage_code: int) -> int:
    """Run ``main(argv)``; a user error is one line and ``usage_code``. Returns the exit code."""
    try:
        return int(main(list(argv)) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    except StylenetError as e:
        report(e, prog)
        return usage_code


def _plain_overrides(argv: list[str]) -> list[str] | None:
    """The overrides of a plain run (no flags), to compose before Hydra does; None when Hydra must see
    the command line itself (help, --cfg, multirun sweeps, another config)."""
    return None if any(a.startswith("-") for a in argv) else argv


def _sweep_overrides(argv: list[str]) -> list[str] | None:
    """The overrides of a ``-m`` sweep with no other flag, whose jobs are checked before Hydra starts; None
    otherwise."""
    flags = [a for a in argv if a.startswith("-")]
    return [a for a in argv if not a.startswith("-")] if flags and set(flags) <= {"-m", "--multirun"} else None


def hydra_command(config_name: str, task: Callable, argv: Sequence[str] | None = None,
                  check: Callable[[Any], None] | None = None) -> None:
    """Run ``task(cfg)`` as a Hydra app on conf/<config_name>.yaml and exit like every stylenet command.

    A config that does not compose, or whose run folder Hydra could not create (``paths.logs`` below a
    file, not writable), is one line before Hydra starts (Hydra would print a traceback for some, such as
    ``logger=null``, and three chained ones for the folder); ``task`` returning a non-zero int is the exit code; any other value
    goes back to Hydra (a sweeper's objective). In a ``-m`` sweep every job must compose and pass ``check``
    (the run's checks before work, on the job's composed config) before the first starts."""
    # Imported here, not at the top: infer.py starts through run_argv and must not load Hydra (or OmegaConf),
    # which take a second to import and which inference does not use (docs/inference.md).
    import hydra

    from stylenet.config import CONFIG_DIR, check_composes, check_sweep

    argv = list(sys.argv[1:] if argv is None else argv)
    overrides, sweep = _plain_overrides(argv), _sweep_overrides(argv)
    try:
        if overrides is not None:
            check_composes(config_name, overrides)
        elif sweep is not None:
            check_sweep(config_name, sweep, check)
    except StylenetError as e:
        report(e)
        sys.exit(1)

    @hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name=config_name)
    def _task(cfg):
        # Lightning adds its own console handler; Hydra's root handler already prints (and files) its records.
        logging.getLogger("lightning.pytorch").propagate = False
        try:
            result = task(cfg)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(INTERRUPTED)
        except StylenetError as e:
            report(e)
            sys.exit(1)
        if isinstance(result, int) and not isinstance(result, bool) and result != 0:
            sys.exit(result)
        return result

    saved = sys.argv
    sys.argv = [saved[0], *argv]
    try:
        _task()
    finally:
        sys.argv = saved
