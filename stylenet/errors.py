"""The base of every error a user can cause and fix (bad file, missing weights, bad config, ...).

Commands catch :class:`StylenetError` and print its one-line message instead of a traceback;
anything else is a bug and keeps its traceback.
"""


class StylenetError(Exception):
    """An error whose message says what was wrong and what to do."""


def first_line(e: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type's name when empty), cut at ``limit`` characters:
    what a one-line error quotes of a library's multi-line one."""
    lines = str(e).strip().splitlines()
    return lines[0][:limit] if lines else type(e).__name__
