"""``python -m stylenet.gatys`` was this command until the reorganisation of 2026-11-30; it is now ``python -m stylenet gatys``.

An old command line gets its new form in one line (exit 2, as a bad command line); importing this does nothing.
"""

import sys

if __name__ == "__main__":
    print("error: python -m stylenet.gatys is now python -m stylenet gatys (same arguments)", file=sys.stderr)
    sys.exit(2)
