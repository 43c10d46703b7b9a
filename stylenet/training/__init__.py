"""Training: the LightningModule, its callbacks, and build/train from a composed Hydra config."""
