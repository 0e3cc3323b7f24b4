"""`python -m runtime`: the same as the `dockyard-runtime` command."""

import sys

from runtime.cli import main

sys.exit(main())
