"""``python -m chatface_widgets`` runs the ``chatface`` command."""

import sys

from chatface_widgets.cli.main import main

sys.exit(main())
