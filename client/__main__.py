"""``python -m client``: the same as the ``dockyard`` command."""

from .cli import main

raise SystemExit(main())
