"""``python -m chatface_widgets`` runs the ``chatface`` command."""

import sys

from .cli import main

sys.exit(main())
