"""The frozen VGG encoders and the one perceptual loss (content + Gram style + TV) shared by training, the teacher and evaluation; colour helpers."""
