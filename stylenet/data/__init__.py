"""Images in and out (the pixel convention: float RGB in [0, 1], B×C×H×W) and the training photos: listing, datasets, exact-resume sampling, the DataModule."""
