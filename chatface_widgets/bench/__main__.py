"""``python -m chatface_widgets.bench``: the speed benchmark (see runner)."""

import sys

from chatface_widgets.bench.runner import main

sys.exit(main())
