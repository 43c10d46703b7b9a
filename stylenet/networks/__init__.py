"""Transform networks (the trained feed-forward nets), their faster inference form, and the checkpoint files that hold them."""
