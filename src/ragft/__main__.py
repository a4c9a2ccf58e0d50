"""`python -m ragft ...`: every measured experiment is also a command."""

from ragft.cli import main

raise SystemExit(main())
