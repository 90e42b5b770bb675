"""Admin: teams, keys and usage reports (proxy/admin/)."""

from __future__ import annotations

from proxy.api.openapi.common import (
                      DATE,
                      ID_PATTERN,
                      MAX_BUDGET_USD,
                      MAX_DAYS,
                      MAX_GRACE_SECONDS,
                      MAX_LIMIT,
                      MAX_TEXT,
                      TIMESTAMP,
                      Schema,
                      integer,
                      nullable,
                      obj,
                      ref,
                      string,
)

# --- admin: teams and keys ---------------------------------------------------------------------------------------
LIMIT_VALUE = nullable(integer(minimum=1, maximum=MAX_LIMIT))
MONEY_IN = {"anyOf": [{"type": "number", "minimum": 0, "maximum": MAX_BUDGET_USD},
                      string(pattern=r"^[0-9]+(\.[0-9]{1,9})?$"), {"type": "null"}],
            "description": f"US dollars a month (at most {MAX_BUDGET_USD:,}, 9 decimals), as a number or a decimal "
                           "string; null for no budget."}
MONEY_OUT = {"type": ["number", "string", "null"],
             "description": "US dollars a month; null for no budget (a string only for a value stored before the "
                            "current bounds existed)."}
TEXT = string(maxLength=MAX_TEXT)
MODELS_IN = nullable({"type": "array", "items": string(minLength=1, maxLength=MAX_TEXT),
                      "description": "Model names; null for every model."})
TAGS_IN = {"type": "object", "additionalProperties": string(maxLength=MAX_TEXT),
           "propertyNames": {"maxLength": MAX_TEXT}}
EXPIRES_IN = nullable(string("An ISO 8601 timestamp (without an offset: UTC); null for no expiry.",
                             format="date-time", examples=["2030-01-31T00:00:00Z"]))
KEY_ID = string("`key_` + 12 letters or digits.", pattern=r"^key_[A-Za-z0-9]{12}$", examples=["key_AbC123dEf456"])

KEY_PROPERTIES: dict[str, Schema] = {
    "object": {"const": "api_key"}, "key_id": KEY_ID, "team_id": string(pattern=ID_PATTERN),
    "prefix": string("The secret's first 10 characters (safe to show).", minLength=1, maxLength=10),
    "name": string(), "status": {"enum": ["active", "revoked"]},
    "created_at": TIMESTAMP, "last_used_at": nullable(TIMESTAMP), "expires_at": nullable(TIMESTAMP),
    "limits": ref("Limits"), "monthly_budget_usd": MONEY_OUT,
    "allowed_models": nullable({"type": "array", "items": string()}),
}
KEY_REQUIRED = list(KEY_PROPERTIES)
SECRET = string("The secret: `sk-gw-` + 48 random base62 characters + a 6-character checksum.",
                pattern=r"^sk-gw-[A-Za-z0-9]{54}$")

ADMIN_SCHEMAS: dict[str, Schema] = {
    "Limits": obj({name: nullable(integer(minimum=1)) for name in ("rpm", "tpm", "max_concurrency")},
                  ["rpm", "tpm", "max_concurrency"], description="null: no limit at this level."),
    "LimitsInput": obj({name: LIMIT_VALUE for name in ("rpm", "tpm", "max_concurrency")},
                       description="Requests and tokens per minute, concurrent requests; null for no limit. "
                                   "On a change, the fields given are merged into the current limits."),
    "Team": obj(
        {"object": {"const": "team"}, "team_id": string(pattern=ID_PATTERN), "team_name": string(),
         "cost_center": nullable(string()), "limits": ref("Limits"), "monthly_budget_usd": MONEY_OUT,
         "allowed_models": nullable({"type": "array", "items": string()}),
         "tags": {"type": "object", "additionalProperties": string()},
         "created_at": TIMESTAMP, "updated_at": TIMESTAMP},
        ["object", "team_id", "team_name", "cost_center", "limits", "monthly_budget_usd", "allowed_models", "tags",
         "created_at", "updated_at"],
    ),
    "TeamList": obj({"object": {"const": "list"}, "data": {"type": "array", "items": ref("Team")}},
                    ["object", "data"]),
    "TeamCreate": obj(
        {"team_id": string("1-64 of `A-Za-z0-9_.-`, starting with a letter or digit.", pattern=ID_PATTERN,
                           examples=["acme"]),
         "team_name": string("Not blank.", minLength=1, maxLength=MAX_TEXT, pattern=r"\S"),
         "cost_center": nullable(TEXT), "limits": ref("LimitsInput"), "monthly_budget_usd": MONEY_IN,
         "allowed_models": MODELS_IN, "tags": TAGS_IN},
        ["team_id", "team_name"],
        description="Unset `rpm`/`tpm` get LLM_GATEWAY_DEFAULT_RPM/_TPM.",
    ),
    "TeamUpdate": obj(
        {"team_name": string("Not blank.", minLength=1, maxLength=MAX_TEXT, pattern=r"\S"),
         "cost_center": nullable(TEXT), "limits": ref("LimitsInput"), "monthly_budget_usd": MONEY_IN,
         "allowed_models": MODELS_IN, "tags": TAGS_IN},
        description="Any create field but `team_id`; `limits` merges.",
    ),
    "TeamDeleted": obj(
        {"object": {"const": "team.deleted"}, "team_id": string(), "deleted": {"const": True},
         "revoked_key_ids": {"type": "array", "items": string(),
                             "description": "The team's keys, revoked (kept for audit)."}},
        ["object", "team_id", "deleted", "revoked_key_ids"],
    ),
    "ApiKey": obj(KEY_PROPERTIES, KEY_REQUIRED, description="A key's public view: never its hash, never its secret."),
    "ApiKeyList": obj({"object": {"const": "list"}, "data": {"type": "array", "items": ref("ApiKey")}},
                      ["object", "data"]),
    "NewApiKey": obj({"key": SECRET, **KEY_PROPERTIES}, ["key", *KEY_REQUIRED],
                     description="A created key, with its secret (shown this once, never again)."),
    "RotatedApiKey": obj(
        {"key": SECRET, **KEY_PROPERTIES, "rotated_from": ref("ApiKey")}, ["key", *KEY_REQUIRED, "rotated_from"],
        description="The new key (same settings) with its secret and, in `rotated_from`, the old one: revoked now "
                    "(grace 0) or expiring after the grace period.",
    ),
    "KeyCreate": {
        **obj({"team_id": string("An existing team.", pattern=ID_PATTERN, examples=["acme"]), "name": TEXT,
               "expires_at": EXPIRES_IN,
               "expires_in_days": nullable({"type": "number", "exclusiveMinimum": 0, "maximum": MAX_DAYS,
                                            "description": "Instead of `expires_at`."}),
               "limits": ref("LimitsInput"), "monthly_budget_usd": MONEY_IN,
               "allowed_models": {**MODELS_IN, "description": "Narrows the team's allow-list."}},
              ["team_id"]),
        "not": {"required": ["expires_at", "expires_in_days"],
                "properties": {"expires_at": {"type": "string"}, "expires_in_days": {"type": "number"}}},
        "description": "`expires_at` or `expires_in_days`, not both.",
    },
    "KeyUpdate": obj(
        {"name": TEXT, "expires_at": EXPIRES_IN, "limits": ref("LimitsInput"), "monthly_budget_usd": MONEY_IN,
         "allowed_models": MODELS_IN},
        description="`limits` merges.",
    ),
    "KeyRotate": obj({"grace_seconds": integer("0: the old key is revoked now; else it expires after this long.",
                                               minimum=0, maximum=MAX_GRACE_SECONDS)}),
    "UsageReport": obj(
        {"from": DATE, "to": DATE, "group_by": {"enum": ["team", "cost_center", "model", "day"]},
         "team_id": nullable(string()),
         "data": {"type": "array", "items": obj(
             {"group": string("The team id, cost center (`(none)` if unset), model or day."),
              **{name: integer(minimum=0) for name in ("requests", "prompt_tokens", "completion_tokens",
                                                       "cached_tokens", "cache_write_tokens", "total_tokens",
                                                       "errors")},
              "cost_usd": string("Exact decimal USD.", pattern=r"^[0-9]+(\.[0-9]+)?$")},
             ["group", "requests", "prompt_tokens", "completion_tokens", "cached_tokens", "cache_write_tokens",
              "total_tokens", "errors", "cost_usd"])}},
        ["from", "to", "group_by", "team_id", "data"],
        description="Costs are exact strings.",
    ),
}


