"""stylenet: fast feed-forward style transfer (Johnson et al. 2016) with a Gatys et al. (2015) teacher.

Pixel convention everywhere: float RGB in [0, 1], B×C×H×W.
"""

import sys

__version__ = "0.1.0"

# The commands were modules of their own until issue 10 (`python -m stylenet.gatys`); runpy imports this
# package before it finds there is no such module, so an old command line gets its new form here.
_MOVED = {"stylenet.gatys": "gatys", "stylenet.evaluate": "evaluate", "stylenet.bench": "bench"}
_argv = getattr(sys, "orig_argv", [])
if "-m" in _argv[:-1] and (_old := _argv[_argv.index("-m") + 1]) in _MOVED:
    print(f"error: python -m {_old} is now python -m stylenet {_MOVED[_old]} (same arguments)", file=sys.stderr)
    sys.exit(2)


__all__ = ["Stylizer", "__version__"]


def __getattr__(name: str):
    # Lazy, so `import stylenet` stays light (no torch import) for tools that only need the version.
    if name == "Stylizer":
        from stylenet.inference.stylizer import Stylizer

        return Stylizer
    raise AttributeError(f"module 'stylenet' has no attribute {name!r}")
