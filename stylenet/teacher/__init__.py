"""The Gatys et al. (2015) teacher (pixels optimised against the perceptual loss) and the evaluation of trained networks against it."""
