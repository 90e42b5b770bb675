"""InvokeModel for Bedrock's text embedding models: Titan Text Embeddings v1 / v2 and Cohere Embed v3 / v4.

Vectors are deterministic, as everything the emulator answers: sha256 in counter mode, seeded with the
model, Cohere's input_type and the text, read as uniform values in [-1, 1), rounded to float32 (what the
models return) and normalised to unit length where the model normalises. A shorter Titan v2 vector is the
normalised prefix of the longer one. Token counts are ceil(characters / 4) per text, as elsewhere in the
emulator; Titan reports them in the body and the ``x-amzn-bedrock-input-token-count`` header, Cohere (as
on Bedrock) in the header only. Bodies are checked with Bedrock's JSON-schema wording
("Malformed input request: #/dimensions: 300 is not a valid enum value, ...").

Deliberately independent of ``translators/embeddings``: the emulator plays AWS, so a translator bug must
fail against it instead of being mirrored by shared code.
"""

from __future__ import annotations

import hashlib
import math
import struct
from array import array
from typing import Any

from bedrock_emulator.anthropic_validation import malformed
from bedrock_emulator.asgi import EmulatedError, Header, validation_error
from bedrock_emulator.directives import DirectiveError, Directives, parse_directives
from bedrock_emulator.operations import Call, JsonResult
from bedrock_emulator.reply import tokens

# Base model id -> family; only these ids are embedding models to the emulator.
MODELS: dict[str, str] = {
    "amazon.titan-embed-text-v2:0": "titan-v2",
    "amazon.titan-embed-text-v1": "titan-v1",
    "cohere.embed-english-v3": "cohere-v3",
    "cohere.embed-multilingual-v3": "cohere-v3",
    "cohere.embed-v4:0": "cohere-v4",
}
TITAN_V1_DIMENSIONS = 1536
TITAN_V2_DIMENSIONS = (256, 512, 1024)
TITAN_V2_MAX_CHARS = 50_000
COHERE_V3_DIMENSIONS = 1024
COHERE_V4_DIMENSIONS = (256, 512, 1024, 1536)
COHERE_MAX_TEXTS = 96
COHERE_V3_MAX_CHARS = 2048
INPUT_TYPES = ("classification", "clustering", "search_document", "search_query")
_INPUT_TYPES = {"cohere-v3": (*INPUT_TYPES, "image"), "cohere-v4": INPUT_TYPES}  # v3 embeds images as "image"
_ALLOWED_KEYS = {
    "titan-v1": frozenset({"inputText"}),
    "titan-v2": frozenset({"inputText", "dimensions", "normalize", "embeddingTypes"}),
    "cohere-v3": frozenset({"texts", "images", "input_type", "truncate", "embedding_types"}),
    "cohere-v4": frozenset({"texts", "images", "inputs", "input_type", "truncate", "embedding_types",
                            "output_dimension", "max_tokens"}),
}
_TRUNCATE = {"cohere-v3": ("NONE", "START", "END"), "cohere-v4": ("NONE", "LEFT", "RIGHT")}
_TITAN_TYPES = ("float", "binary")
_COHERE_TYPES = ("float", "int8", "uint8", "binary", "ubinary")
_PROVIDERS = ("amazon.", "cohere.")


def embedding_model(model_id: str) -> str | None:
    """The base model id when ``model_id`` (a model id, profile id or ARN) is an emulated embedding model."""
    tail = model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:") else model_id
    if not tail.startswith(_PROVIDERS):
        tail = tail.partition(".")[2]  # an inference-profile prefix: us., eu., apac., global., ...
    return tail if tail in MODELS else None


def prepare_embedding(model_id: str, body: Any) -> Call:
    """Validate an embedding InvokeModel body as Bedrock does and prepare its answer."""
    model = embedding_model(model_id)
    if model is None:
        raise ValueError(f"{model_id} is not an emulated embedding model")
    family = MODELS[model]
    if not isinstance(body, dict):
        raise _malformed(f"#: expected type: JSONObject, found: {type(body).__name__}")
    extra = sorted(set(body) - _ALLOWED_KEYS[family])
    if extra:
        raise _malformed("#: " + ", ".join(f"extraneous key [{key}] is not permitted" for key in extra))
    if family.startswith("titan"):
        texts = [_check_titan(body, family)]
        answer = _titan_answer
    else:
        texts = _check_cohere(body, family)
        answer = _cohere_answer
    found = _directives(texts)
    return Call(found, lambda latency_ms: answer(model, family, body, texts, found, latency_ms))


def _malformed(detail: str) -> EmulatedError:
    return validation_error(str(malformed(detail)))


def _directives(texts: list[str]) -> Directives:
    # The same EMULATOR:error= / delay_ms= / usage= directives as chat, written in any input text.
    try:
        return parse_directives("\n".join(texts))
    except DirectiveError as exc:
        raise validation_error(str(exc)) from None


# --- validation, in Bedrock's JSON-schema wording ----------------------------------------------------------

def _type_name(value: Any) -> str:
    names = {str: "String", int: "Integer", float: "BigDecimal", bool: "Boolean", list: "JSONArray",
             dict: "JSONObject"}
    return "Null" if value is None else names.get(type(value), type(value).__name__)


def _expect(body: dict, key: str, kind: type, kind_name: str) -> Any:
    value = body.get(key)
    if key in body and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
        raise _malformed(f"#/{key}: expected type: {kind_name}, found: {_type_name(value)}")
    return value


def _enum(body: dict, key: str, allowed: tuple[Any, ...]) -> None:
    if key in body and body[key] not in allowed:
        raise _malformed(f"#/{key}: {body[key]} is not a valid enum value")


def _types(body: dict, key: str, allowed: tuple[str, ...]) -> None:
    values = _expect(body, key, list, "JSONArray")
    if values is None:
        return
    if not values:
        raise _malformed(f"#/{key}: expected minimum item count: 1, found: 0")
    for index, value in enumerate(values):
        if value not in allowed:
            raise _malformed(f"#/{key}/{index}: {value} is not a valid enum value")


def _check_titan(body: dict, family: str) -> str:
    if "inputText" not in body:
        raise _malformed("#: required key [inputText] not found")
    text = _expect(body, "inputText", str, "String")
    if not text:
        raise _malformed("#/inputText: expected minLength: 1, actual: 0")
    if family == "titan-v2":
        if len(text) > TITAN_V2_MAX_CHARS:
            raise _malformed(f"#/inputText: expected maxLength: {TITAN_V2_MAX_CHARS}, actual: {len(text)}")
        _expect(body, "dimensions", int, "Integer")
        _enum(body, "dimensions", TITAN_V2_DIMENSIONS)
        _expect(body, "normalize", bool, "Boolean")
        _types(body, "embeddingTypes", _TITAN_TYPES)
    return str(text)


def _check_cohere(body: dict, family: str) -> list[str]:
    if "input_type" not in body:  # v3 on Bedrock requires it, although Cohere's docs once called it optional
        raise _malformed("#: required key [input_type] not found")
    _enum(body, "input_type", _INPUT_TYPES[family])
    if "images" in body or "inputs" in body:
        raise validation_error("The emulator embeds texts only: images and inputs are not emulated.")
    if "texts" not in body:
        raise _malformed("#: required key [texts] not found")
    texts = _expect(body, "texts", list, "JSONArray")
    if not 1 <= len(texts) <= COHERE_MAX_TEXTS:
        bound = "minimum item count: 1" if not texts else f"maximum item count: {COHERE_MAX_TEXTS}"
        raise _malformed(f"#/texts: expected {bound}, found: {len(texts)}")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise _malformed(f"#/texts/{index}: expected type: String, found: {_type_name(text)}")
        if family == "cohere-v3" and len(text) > COHERE_V3_MAX_CHARS:
            raise _malformed(f"#/texts/{index}: expected maxLength: {COHERE_V3_MAX_CHARS}, actual: {len(text)}")
    _enum(body, "truncate", _TRUNCATE[family])
    _types(body, "embedding_types", _COHERE_TYPES)
    if family == "cohere-v4":
        _expect(body, "output_dimension", int, "Integer")
        _enum(body, "output_dimension", COHERE_V4_DIMENSIONS)
        max_tokens = _expect(body, "max_tokens", int, "Integer")
        if max_tokens is not None and max_tokens < 1:
            raise _malformed(f"#/max_tokens: {max_tokens} is not greater or equal to 1")
    return texts


# --- the vectors ---------------------------------------------------------------------------------------------

def vector(model: str, text: str, dimensions: int, *, normalize: bool, input_type: str = "") -> list[float]:
    """The deterministic embedding of ``text``: float32 values, unit length when ``normalize``."""
    seed = hashlib.sha256(f"{model}\n{input_type}\n{text}".encode()).digest()
    blocks = -(-dimensions // 8)  # one sha256 digest holds 8 uint32 words
    stream = b"".join(hashlib.sha256(seed + n.to_bytes(4, "big")).digest() for n in range(blocks))
    values = [word / 2**31 - 1.0 for word in struct.unpack(f">{blocks * 8}I", stream)[:dimensions]]
    if normalize:
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        values = [v / norm for v in values]
    return array("f", values).tolist()  # float32, as the models answer


def _int8(values: list[float]) -> list[int]:
    return [max(-128, min(127, round(v * 127))) for v in values]


def _ubinary(values: list[float]) -> list[int]:
    """Cohere's packed sign bits: one unsigned byte per 8 dimensions, the first dimension highest."""
    out = []
    for start in range(0, len(values), 8):
        byte = 0
        for v in values[start:start + 8]:
            byte = (byte << 1) | (v > 0)
        out.append(byte)
    return out


def _cohere_typed(kind: str, values: list[float]) -> list[Any]:
    if kind == "int8":
        return _int8(values)
    if kind == "uint8":
        return [v + 128 for v in _int8(values)]
    if kind == "ubinary":
        return _ubinary(values)
    if kind == "binary":
        return [v - 128 for v in _ubinary(values)]
    return values


# --- the answers ---------------------------------------------------------------------------------------------

def _headers(input_tokens: int, latency_ms: int) -> list[Header]:
    return [
        (b"x-amzn-bedrock-invocation-latency", str(latency_ms).encode()),
        (b"x-amzn-bedrock-input-token-count", str(input_tokens).encode()),
    ]


def _input_tokens(texts: list[str], found: Directives) -> int:
    return found.usage[0] if found.usage is not None else sum(tokens(len(t)) for t in texts)


def _titan_answer(model: str, family: str, body: dict, texts: list[str], found: Directives,
                  latency_ms: int) -> JsonResult:
    count = _input_tokens(texts, found)
    if family == "titan-v1":  # v1 vectors are not normalised
        values = vector(model, texts[0], TITAN_V1_DIMENSIONS, normalize=False)
        return JsonResult({"embedding": values, "inputTextTokenCount": count}, _headers(count, latency_ms))
    values = vector(model, texts[0], body.get("dimensions", 1024), normalize=body.get("normalize", True))
    by_type: dict[str, list[Any]] = {}
    for kind in body.get("embeddingTypes") or ["float"]:  # Titan always answers embeddingsByType
        by_type[kind] = values if kind == "float" else [int(v > 0) for v in values]
    payload = {"embedding": values, "inputTextTokenCount": count, "embeddingsByType": by_type}
    return JsonResult(payload, _headers(count, latency_ms))


def _cohere_answer(model: str, family: str, body: dict, texts: list[str], found: Directives,
                   latency_ms: int) -> JsonResult:
    dimensions = COHERE_V3_DIMENSIONS if family == "cohere-v3" else body.get("output_dimension", 1536)
    floats = [vector(model, t, dimensions, normalize=True, input_type=body["input_type"]) for t in texts]
    digest = hashlib.sha256(f"{model}\n{body['input_type']}\n".encode() + "\x00".join(texts).encode()).hexdigest()
    payload: dict[str, Any] = {"id": "-".join((digest[:8], digest[8:12], digest[12:16], digest[16:20],
                                               digest[20:32]))}
    kinds = body.get("embedding_types")
    if kinds:
        payload["embeddings"] = {kind: [_cohere_typed(kind, v) for v in floats] for kind in kinds}
        payload["response_type"] = "embeddings_by_type"
    else:
        payload["embeddings"] = floats
        payload["response_type"] = "embeddings_floats"
    payload["texts"] = texts
    # Cohere on Bedrock puts no token count in the body: the header is the only one.
    return JsonResult(payload, _headers(_input_tokens(texts, found), latency_ms))
