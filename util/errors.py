"""Error types for mistakes a user can fix (bad flags, bad data).

The entry points turn a `UserError` into one line on stderr and exit code 2, without a traceback;
every other exception keeps its traceback because it is a bug.
"""


class UserError(Exception):
    """A problem the user can fix; its message is shown as is."""


class OptionError(UserError):
    """An invalid command-line option or combination of options."""


class DataError(UserError):
    """A data set that cannot be read; the message names the offending file or folder."""


def one_line(error: BaseException, limit: int = 300) -> str:
    """A library's (often multi-line) error message as one line: its lines joined, cut at `limit` characters."""
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
