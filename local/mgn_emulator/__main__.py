"""``python -m local.mgn_emulator``: the MGN emulator as a program (see ``mgn_emulator.cli``)."""

from local.mgn_emulator.cli import main

raise SystemExit(main())
