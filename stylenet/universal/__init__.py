"""Universal style transfer: any painting, no training per style.

Li et al. (2017, "Universal Style Transfer via Feature Transforms"): decoders trained once to invert
VGG19 features (:mod:`.decoder`; trained by :mod:`stylenet.training.decoders`), then a whitening and colouring transform of the photo's
features towards the painting's, level by level (:mod:`.transforms`, :mod:`.stylizer`). Huang & Belongie
(2017, AdaIN) is the single-level cousin at relu4_1. Checkpoints: :mod:`.checkpoint`.
"""
