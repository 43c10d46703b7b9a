"""Train a fast style-transfer network: ``python train.py style=wave`` (see stylenet/cli/train.py, conf/)."""

from stylenet.cli.train import main

if __name__ == "__main__":
    main()
