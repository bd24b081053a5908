"""The one exception type a user is meant to see.

Anything that is the user's doing (a missing folder, a corrupt WAV, a bad flag
value) raises :class:`TinyKWSError` with a message that names the problem and
the file. The command line prints that message on one line and exits with
code 2; any other exception is a bug in tinykws and keeps its traceback.
"""


class TinyKWSError(Exception):
    """A problem with the user's input, reported as one line, exit code 2."""
