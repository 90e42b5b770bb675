"""Peer gateways the suite can run against the same emulator (``suite.py --peer NAME``)."""
