"""The HTTP server: uvicorn with per-process limits on header size, slow and idle clients, connections and
requests in flight (protocol.py), and its runner (run.py). Only ``proxy/cli/main.py`` imports it."""
