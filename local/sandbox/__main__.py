"""``python -m local.sandbox``: the whole deployed system on one machine (see ``sandbox.cli``)."""

from local.sandbox.cli import main

raise SystemExit(main())
