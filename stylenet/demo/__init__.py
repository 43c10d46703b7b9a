"""The web page: ``python -m stylenet demo`` (stylenet/cli/demo.py). :mod:`.catalogue` finds the styles,
:mod:`.jobs` does the work and holds every bound, :mod:`.page` lays them out with Gradio (the ``demo`` extra)."""
