"""A deterministic OpenAI / Azure OpenAI upstream for tests, the demo and benchmarks (see README.md)."""
