"""``python -m tinykws`` is the same as the ``tinykws`` command."""

import sys

from tinykws.cli import main

sys.exit(main())
