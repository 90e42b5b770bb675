"""OpenAI-format upstreams (OpenAI, Azure OpenAI, any OpenAI-compatible server): chat bodies pass through."""
