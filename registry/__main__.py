"""``python -m registry``: the same command as ``dockyard-registry``."""

import sys

from .cli import main

sys.exit(main())
