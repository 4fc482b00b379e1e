"""``python -m mgn_emulator``: the MGN emulator as a program (see ``mgn_emulator.cli``)."""

from mgn_emulator.cli import main

raise SystemExit(main())
