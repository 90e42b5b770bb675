"""``python -m openai_emulator [--host H] [--port P] [--api-key KEY ...] [--azure]``."""

from openai_emulator.cli import main

raise SystemExit(main())
