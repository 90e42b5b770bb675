"""Exact-match response cache for chat completions: keys and decisions (key.py), the stored answer and
its replay (entry.py), and the stores (store.py: in-process LRU, Redis). Opt-in per team or per request.
"""
