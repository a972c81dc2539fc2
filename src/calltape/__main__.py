"""``python -m calltape``."""

import sys

from calltape.cli import main

sys.exit(main())
