"""Bedrock Runtime's own routes, passed through (proxy/api/bedrock.py)."""

from __future__ import annotations

from proxy.api.openapi.common import Schema, obj, string

# --- Bedrock Runtime's own routes (pass-through) -------------------------------------------------------------------
BEDROCK_OPERATIONS = ["invoke", "invoke-with-response-stream", "converse", "converse-stream"]
BEDROCK_SCHEMAS: dict[str, Schema] = {
    "BedrockError": obj({"message": string()}, ["message"],
                        description="Bedrock's error body; `x-amzn-ErrorType` names the exception an AWS SDK raises."),
    "InferenceProfiles": obj({"inferenceProfileSummaries": {"type": "array", "items": {"type": "object"},
                                                            "description": "None: the gateway lists no profiles."},
                              "nextToken": string()}, ["inferenceProfileSummaries"]),
}


