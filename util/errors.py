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
