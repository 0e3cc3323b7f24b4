"""The root of every error the ``dockyard`` command reports to its user.

The CLI prints a ``DockyardError`` as one line and exits non-zero; anything
else is a bug and gets a traceback under ``--debug``.
"""


class DockyardError(Exception):
    """Something the user can act on: bad input, an unreachable or refusing registry."""
