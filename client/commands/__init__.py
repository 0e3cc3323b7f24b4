"""One module per ``dockyard`` subcommand, found by ``client.cli`` at start-up.

A command module defines ``register(subparsers)``, which adds its parser and
sets ``run`` as its default: ``parser.set_defaults(run=run)``. ``run(args,
ctx)`` gets the parsed arguments and a ``client.context.Context``; it may be
``async`` and returns the exit code (None means 0). It raises
``DockyardError`` for anything the user should read as one line. Import
heavy modules inside ``run``, never at the top: every command's module is
imported on every start.
"""
