"""`python -m worker.cli ...` runs `mjw ...` (used where the console script is not on PATH)."""

import sys

from worker.cli.commands import main

sys.exit(main())
