"""`python -m mlops.cli`: the same as the `mlops` command."""

import sys

from mlops.cli import main

sys.exit(main())
