"""The base of every error a user can cause and fix (bad file, missing weights, bad config, ...).

Commands catch :class:`StylenetError` and print its one-line message instead of a traceback;
anything else is a bug and keeps its traceback.
"""


class StylenetError(Exception):
    """An error whose message says what was wrong and what to do."""
