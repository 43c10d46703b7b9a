"""The commands: one module each (train, infer, gatys, evaluate, bench), all entered through stylenet.cli.entry."""
