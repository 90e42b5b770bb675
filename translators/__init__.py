"""Pure translators between client APIs and upstream APIs: one subpackage per pair, named by direction.

No I/O, no clock, no random, no env and no logging in here (docs/ARCHITECTURE.md); `usage.py` is the
provider-neutral token record every translator returns and the gateway's books read.
"""
