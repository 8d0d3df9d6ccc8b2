"""`python -m tui_perf` works as `tui-perf` does, where the scripts folder is not on PATH."""

import sys

from tui_perf.cli.main import main

sys.exit(main())
