"""stylenet's Hydra plugin: the sweeper that ``hparams_search=...`` names (conf/hparams_search/). Hydra instantiates
plugins only from the ``hydra_plugins`` namespace, and imports every module there at each start, so this one imports
nothing heavy and nothing that may be missing: the code is :class:`stylenet.search.sweeper.SearchSweeperImpl`, loaded
when a search starts."""

from typing import Any

try:  # the `search` extra (pip install -e ".[search]"); without it there is no plugin and no warning
    from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
except ImportError:
    OptunaSweeper = None

if OptunaSweeper is not None:

    class StylenetSearchSweeper(OptunaSweeper):
        """hydra-optuna-sweeper's sweeper with stylenet's trial totals, pruning and report (stylenet/search/sweeper.py)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            from stylenet.search.sweeper import SearchSweeperImpl

            self.sweeper = SearchSweeperImpl.wrapping(self.sweeper)
