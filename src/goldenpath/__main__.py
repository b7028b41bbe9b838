"""`python -m goldenpath`, the same as the `goldenpath` console script."""

from .cli import main

raise SystemExit(main())
