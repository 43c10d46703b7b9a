"""Searching a run's weights with Optuna through Hydra (``python train.py -m hparams_search=style_weight``,
docs/search.md): what a trial is scored on (:mod:`.objective`), how a hopeless trial stops early (:mod:`.pruning`),
the sweeper that asks, launches and tells (:mod:`.sweeper`) and what a search writes (:mod:`.report`)."""
