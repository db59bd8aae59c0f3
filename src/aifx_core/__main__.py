"""``python -m aifx_core``: the same CLI, for environments whose scripts folder is not on PATH."""

import sys

from .cli import main

sys.exit(main())
