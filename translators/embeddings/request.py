"""parse_embeddings_request: a ``POST /v1/embeddings`` body -> EmbeddingsRequest, validated as OpenAI does.

The parsed request is provider-neutral: token arrays are valid OpenAI input and are kept here; the
Bedrock body builders refuse them (``bedrock_texts``), since Titan and Cohere take only text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from translators.embeddings.errors import TranslationError

MAX_INPUTS = 2048  # OpenAI's limit on inputs per request
ENCODING_FORMATS = ("float", "base64")
INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")  # Cohere's
TRUNCATE_MODES = ("NONE", "START", "END")  # Cohere's
OPENAI_FIELDS = frozenset({"model", "input", "encoding_format", "dimensions", "user"})
# Vendor extensions, sent at top level (openai SDK extra_body): Cohere input_type/truncate, Titan normalize.
EXTENSIONS = frozenset({"input_type", "normalize", "truncate"})
_SHAPE = "'input' must be a string, an array of strings, an array of integers or an array of integer arrays"

EmbeddingInput = str | tuple[int, ...]


@dataclass(frozen=True)
class EmbeddingsRequest:
    model: str
    inputs: tuple[EmbeddingInput, ...]  # a single string or token array becomes one input
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    input_type: str | None = None  # extension (Cohere)
    normalize: bool | None = None  # extension (Titan v2)
    truncate: str | None = None  # extension (Cohere)

    @property
    def has_tokens(self) -> bool:
        return any(not isinstance(item, str) for item in self.inputs)


def parse_embeddings_request(body: Any) -> EmbeddingsRequest:
    """Validate an embeddings request like OpenAI's API. Raises TranslationError(param=...) on any 400."""
    if not isinstance(body, dict):
        raise TranslationError("request body must be a JSON object")
    for key in body:
        if key not in OPENAI_FIELDS and key not in EXTENSIONS:
            raise TranslationError(f"Unrecognized request argument supplied: {key}", param=key)
    model = body.get("model")
    if model is None or model == "":
        raise TranslationError("you must provide a model parameter", param="model")
    _expect(body, "model", str, "a string")
    _expect(body, "user", str, "a string")  # accepted and ignored, as the chat translator does
    return EmbeddingsRequest(
        model=model,
        inputs=_inputs(body),
        encoding_format="base64" if _choice(body, "encoding_format", ENCODING_FORMATS) == "base64" else "float",
        dimensions=_dimensions(body),
        input_type=_choice(body, "input_type", INPUT_TYPES),
        normalize=_expect(body, "normalize", bool, "a boolean"),
        truncate=_choice(body, "truncate", TRUNCATE_MODES),
    )


def _inputs(body: dict[str, Any]) -> tuple[EmbeddingInput, ...]:
    if "input" not in body or body["input"] is None:
        raise TranslationError("'input' is a required property", param="input")
    value = body["input"]
    if isinstance(value, str):
        return (_text(value, None),)
    if not isinstance(value, list):
        raise TranslationError(_SHAPE, param="input", code="invalid_type")
    if not value:
        raise TranslationError("'input' must not be an empty array", param="input", code="invalid_value")
    if all(_is_token(v) for v in value):
        return (tuple(value),)  # one token array is one input, however long
    if len(value) > MAX_INPUTS:
        raise TranslationError(f"'input' holds {len(value)} inputs; at most {MAX_INPUTS} are allowed per request",
                               param="input", code="invalid_value")
    if all(isinstance(v, str) for v in value):
        return tuple(_text(v, i) for i, v in enumerate(value))
    if all(isinstance(v, list) for v in value):
        return tuple(_tokens(v, i) for i, v in enumerate(value))
    raise TranslationError(_SHAPE, param="input", code="invalid_type")


def _text(value: str, index: int | None) -> str:
    if not value:
        where = "'input'" if index is None else f"'input[{index}]'"
        raise TranslationError(f"{where} must not be an empty string", param="input", code="invalid_value")
    return value


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _tokens(value: list[Any], index: int) -> tuple[int, ...]:
    if not value:
        raise TranslationError(f"'input[{index}]' must not be an empty token array", param="input",
                               code="invalid_value")
    if not all(_is_token(v) for v in value):
        raise TranslationError(f"'input[{index}]' must hold only non-negative integer tokens", param="input",
                               code="invalid_type")
    return tuple(value)


def _expect(body: dict[str, Any], key: str, kind: type, name: str) -> Any:
    value = body.get(key)
    wrong_bool = isinstance(value, bool) and kind is not bool  # True is an int to Python, not to OpenAI
    if value is not None and (wrong_bool or not isinstance(value, kind)):
        raise TranslationError(f"Invalid type for '{key}': expected {name}.", param=key, code="invalid_type")
    return value


def _choice(body: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str | None:
    value: str | None = body.get(key)
    if value is not None and value not in allowed:
        raise TranslationError(f"'{key}' must be one of: {', '.join(allowed)}", param=key, code="invalid_value")
    return value


def _dimensions(body: dict[str, Any]) -> int | None:
    value: int | None = _expect(body, "dimensions", int, "an integer")
    if value is not None and value < 1:
        raise TranslationError("'dimensions' must be an integer >= 1", param="dimensions", code="invalid_value")
    return value


def bedrock_texts(request: EmbeddingsRequest) -> list[str]:
    """The inputs as texts. Bedrock's Titan and Cohere models take only text, so token arrays are a 400."""
    if request.has_tokens:
        raise TranslationError(
            "token arrays are not supported by this model (Bedrock embedding models take only text): "
            "send 'input' as a string or an array of strings", param="input", code="invalid_value",
        )
    return [item for item in request.inputs if isinstance(item, str)]


def refuse_extensions(request: EmbeddingsRequest, names: tuple[str, ...], family: str) -> None:
    """A vendor extension the target model has no use for is a 400, not a silent drop (STYLE.md)."""
    for name in names:
        if getattr(request, name) is not None:
            raise TranslationError(f"'{name}' is not supported by {family} embedding models", param=name,
                                   code="unsupported_parameter")
