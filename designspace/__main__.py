"""`python -m designspace` is the `designspace` command."""
import sys

from designspace.cli import main

sys.exit(main())
