"""Bedrock model ids: inference profiles (in-region, geo, global), billing regions and model families.

Pure string rules, read by the catalog (proxy/catalog/catalog.py) for pricing and capabilities.
"""

from __future__ import annotations

from translators.openai_bedrock.capabilities import ModelCapabilities

GEO_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "jp.", "au.", "ca.")


def profile_type(bedrock_id: str) -> str:
    tail = bedrock_id.rsplit("/", 1)[-1] if bedrock_id.startswith("arn:") else bedrock_id
    if tail.startswith("global."):
        return "global"
    if tail.startswith(GEO_PREFIXES):
        return "geo"
    return "in-region"


def billing_region(bedrock_id: str, default: str | None) -> str | None:
    """The region whose list price applies: an ARN's own region, else the region requests go to.

    Cross-region (geo/global) profiles are billed at the source region's price, the region the
    request is sent to, so only ARNs carry a region of their own.
    """
    parts = bedrock_id.split(":")
    if bedrock_id.startswith("arn:") and len(parts) >= 6 and parts[3]:
        return parts[3]
    return default


def base_model_id(bedrock_id: str) -> str:
    """The foundation model id behind a profile id (``us.anthropic.x`` -> ``anthropic.x``)."""
    tail = bedrock_id.rsplit("/", 1)[-1] if bedrock_id.startswith("arn:") else bedrock_id
    for prefix in ("global.", *GEO_PREFIXES):
        if tail.startswith(prefix):
            return tail[len(prefix):]
    return tail


def guess_capabilities(bedrock_id: str) -> ModelCapabilities:
    """Capabilities of an unlisted model, from its family; generous where the family is unknown."""
    model = base_model_id(bedrock_id)
    if model.startswith("anthropic."):
        thinking = any(tag in model for tag in ("claude-3-7", "claude-sonnet-4", "claude-opus-4", "claude-haiku-4"))
        caching = thinking or "claude-3-5-haiku" in model  # Bedrock prompt caching: 3.5 Haiku, 3.7, 4.x
        return ModelCapabilities(tool_result_images=True, documents=True, reasoning=thinking, prompt_caching=caching)
    if model.startswith("amazon.nova"):  # Nova caches system and messages, not tools
        multimodal = "micro" not in model  # Nova Micro is text only
        return ModelCapabilities(tool_result_images=multimodal, documents=multimodal, vision=multimodal,
                                 prompt_caching=True, prompt_caching_tools=False)
    if model.startswith("meta.llama3-") and not model.startswith(("meta.llama3-1", "meta.llama3-2", "meta.llama3-3")):
        return ModelCapabilities(tools=False, streaming_tools=False, vision=False, prefill=False)
    if model.startswith(("meta.", "mistral.", "cohere.", "ai21.")):
        return ModelCapabilities(vision="llama3-2-11b" in model or "llama3-2-90b" in model, prefill=False)
    return ModelCapabilities()


def looks_like_bedrock_id(name: str) -> bool:
    if name.startswith("arn:aws") and ":bedrock:" in name:
        return True
    model = base_model_id(name)
    provider, dot, rest = model.partition(".")
    return bool(dot and rest and provider.isalnum() and len(name) <= 2048 and " " not in name)
