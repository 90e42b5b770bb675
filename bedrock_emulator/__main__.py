"""``python -m bedrock_emulator [--host H] [--port P]``."""

from bedrock_emulator.cli import main

raise SystemExit(main())
