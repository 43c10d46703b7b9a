"""``python -m stylenet.evaluate`` was this command until the reorganisation of 2026-11-30; it is now ``python -m stylenet evaluate``.

An old command line gets its new form in one line (exit 2, as a bad command line); importing this does nothing.
"""

import sys

if __name__ == "__main__":
    print("error: python -m stylenet.evaluate is now python -m stylenet evaluate (same arguments)", file=sys.stderr)
    sys.exit(2)
