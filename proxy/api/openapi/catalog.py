"""Models, usage, health, readiness and the error envelope."""

from __future__ import annotations

from proxy import __version__
from proxy.api.openapi.common import (
    DATE,
    ERROR_TYPES,
    REPORT_MAX_DAYS,
    TIMESTAMP,
    Schema,
    integer,
    nullable,
    obj,
    ref,
    string,
)

# --- models, usage, health ---------------------------------------------------------------------------------------
PRICE = nullable({"type": "number", "minimum": 0})
OTHER_SCHEMAS: dict[str, Schema] = {
    "Error": obj(
        {"error": obj({"message": string(), "type": {"enum": ERROR_TYPES}, "param": nullable(string()),
                       "code": nullable(string())}, ["message", "type", "param", "code"])},
        ["error"], description="OpenAI's error envelope: every error the gateway answers has this shape.",
    ),
    "Health": obj({"status": {"const": "healthy"}, "service": {"const": "llm-gateway"}, "timestamp": TIMESTAMP,
                   "version": string(examples=[__version__])}, ["status", "service", "timestamp", "version"]),
    "Ready": obj(
        {"status": {"enum": ["ready", "not_ready"]},
         "checks": {"type": "object", "additionalProperties": string(),
                    "description": "Each dependency (`key_store`, `usage_store`, `redis`, `provider:<name>`): "
                                   "`ok` or why not (never a URL, a key or a store's message).",
                    "examples": [{"key_store": "ok", "usage_store": "ok", "provider:bedrock": "ok"}]}},
        ["status", "checks"],
    ),
    "Model": obj(
        {"id": string("The alias clients send as `model`."), "object": {"const": "model"},
         "created": integer(minimum=0), "owned_by": string(), "provider": string(examples=["aws-bedrock"]),
         "description": string(), "bedrock_model_id": string(),
         "pricing": nullable(obj({"unit": {"const": "USD per 1K tokens"}, "input": {"type": "number", "minimum": 0},
                                  "output": {"type": "number", "minimum": 0}, "cache_read": PRICE,
                                  "cache_write": PRICE},
                                 ["unit", "input", "output", "cache_read", "cache_write"]))},
        ["id", "object", "created", "owned_by", "provider", "description", "bedrock_model_id", "pricing"],
    ),
    "ModelList": obj({"object": {"const": "list"}, "data": {"type": "array", "items": ref("Model")}},
                     ["object", "data"]),
    "TeamUsage": obj(
        {"team_id": string(), "team_name": string(),
         "period": obj({"days": integer(minimum=1, maximum=REPORT_MAX_DAYS), "start": DATE, "end": DATE},
                       ["days", "start", "end"]),
         "summary": obj({"total_requests": integer(minimum=0), "total_tokens": integer(minimum=0),
                         "total_cost_usd": {"type": "number", "minimum": 0},
                         "avg_daily_cost_usd": {"type": "number", "minimum": 0}},
                        ["total_requests", "total_tokens", "total_cost_usd", "avg_daily_cost_usd"]),
         "by_model": {"type": "array", "description": "One entry per model, in name order.", "items": obj(
             {"model": string(), "requests": integer(minimum=0), "tokens": integer(minimum=0),
              "prompt_tokens": integer(minimum=0), "completion_tokens": integer(minimum=0),
              "cost_usd": {"type": "number", "minimum": 0}},
             ["model", "requests", "tokens", "prompt_tokens", "completion_tokens", "cost_usd"])},
         "by_day": {"type": "array", "description": "Every day of the period, zeros included.", "items": obj(
             {"date": DATE, "requests": integer(minimum=0), "tokens": integer(minimum=0),
              "cost_usd": {"type": "number", "minimum": 0}}, ["date", "requests", "tokens", "cost_usd"])}},
        ["team_id", "team_name", "period", "summary", "by_model", "by_day"],
        description="The caller's team usage; costs are JSON numbers with 9 decimals (nano-USD).",
    ),
}


