"""``python -m sandbox``: the whole deployed system on one machine (see ``sandbox.cli``)."""

from sandbox.cli import main

raise SystemExit(main())
