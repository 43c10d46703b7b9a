"""stylenet: fast feed-forward style transfer (Johnson et al. 2016) with a Gatys et al. (2015) teacher.

Pixel convention everywhere: float RGB in [0, 1], B×C×H×W.
"""

__version__ = "0.1.0"

__all__ = ["Stylizer", "StylizerProtocol", "__version__", "open_stylizer"]


def __getattr__(name: str):
    # Lazy, so `import stylenet` stays light (no torch import) for tools that only need the version.
    if name == "Stylizer":
        from stylenet.inference.stylizer import Stylizer

        return Stylizer
    if name == "open_stylizer":
        from stylenet.inference.open import open_stylizer

        return open_stylizer
    if name == "StylizerProtocol":
        from stylenet.inference.protocol import StylizerProtocol

        return StylizerProtocol
    raise AttributeError(f"module 'stylenet' has no attribute {name!r}")
