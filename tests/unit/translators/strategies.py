"""Hypothesis strategies for client bodies: OpenAI chat-completions and Anthropic Messages, plausible and odd.

A body is drawn at one level of oddness: entirely plausible (it reaches Bedrock's shape checks), or with an odd
value (a wrong type, a huge int, an empty string, anything JSON holds) in about one field of 40, or of 6. The
plausible values are adversarial too: data URLs with empty or non-base64 payloads, temperatures up to 2, tool
names Bedrock refuses, JSON text that Python parses and orjson cannot write. JSON means what the gateway's parser
(orjson) yields: free-form objects hold 64-bit ints, typed numeric fields also get ints past 2**64.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st

from tests.unit.translators.bedrock_shapes import JSON_KEYS, JSON_VALUES
from translators.anthropic_bedrock import AnthropicCapabilities
from translators.openai_bedrock.capabilities import ModelCapabilities

Strategy = st.SearchStrategy[Any]

HUGE_INTS = [2**31, 2**53 + 1, 2**63, 2**64, 2**64 + 1, 10**30, -(2**65)]
ODD = st.one_of(JSON_VALUES, st.sampled_from(HUGE_INTS), st.sampled_from(["", " ", "\u0000", "x" * 300]))
INTS = st.one_of(st.integers(-3, 70_000), st.sampled_from([2**31 - 1, *HUGE_INTS]))
BLANK = st.sampled_from(["", " ", "\n"])
TEXT = st.one_of(st.sampled_from(["Hi", "hello world"]), st.text(min_size=1, max_size=6), BLANK)
SAID = st.sampled_from(["Hi", "What is the weather?", "thanks"])
IDS = st.sampled_from(["call_1", "call_2", "toolu_3", "functions.get_weather:0", "id with spaces"])
TOOL_NAMES = st.sampled_from(["get_weather", "search", "bad name!", "json_response", "x" * 70])
BASE64 = st.binary(max_size=12).map(lambda b: base64.b64encode(b).decode())
NOT_BASE64 = st.sampled_from(["@@@", "abc", "a=b=", "!!", "\u00e9", " "])
OBJECTS = st.dictionaries(JSON_KEYS, JSON_VALUES, max_size=3)
# Tool-call `arguments` is JSON text the translator parses itself: huge ints, NaN and lone surrogates included.
ARGUMENTS = st.one_of(
    OBJECTS.map(json.dumps),
    st.sampled_from([
        '{"n": 123456789012345678901234567890}', '{"n": -36893488147419103232}', '{"s": "\\ud800"}',
        '{"x": NaN}', '{"x": Infinity}', "NaN", "not json", "", "  ", "[1]", "null", '{"a": ' * 120 + "1" + "}" * 120,
    ]),
    OBJECTS,
)
DATA_URLS = st.one_of(
    BASE64.map(lambda d: f"data:image/png;base64,{d}"),
    BASE64.map(lambda d: f"data:image/jpeg;base64,{d[:4]} {d[4:]}"),
    st.sampled_from([
        "data:image/png;base64,", "data:image/jpeg;base64, ", "data:image/png;base64,@@@",
        "data:image/tiff;base64,AAAA", "data:,", "data:image/png,AAAA", "http://169.254.169.254/latest",
        "https://example.com/a.png", "",
    ]),
    NOT_BASE64.map(lambda d: f"data:image/webp;base64,{d}"),
)
FILE_DATA = st.one_of(
    BASE64.map(lambda d: f"data:application/pdf;base64,{d}"),
    BASE64,
    st.sampled_from(["data:application/pdf;base64,", "data:text/plain;base64,@@", "data:application/zip;base64,AA"]),
)
FILENAMES = st.sampled_from(["a.pdf", "notes.txt", "x", "..", "r\u00e9sum\u00e9.docx"])
METADATA_KEYS = st.sampled_from(["team", "", "a b", "bad&key", "k" * 300, "x:y"])
BILLING_BLOCK = st.just({"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.3; cc_entrypoint=cli;"})
_MOSTLY_TRUE = st.integers(0, 3).map(bool)  # most bodies should meet a model that can take them
_SMALL = {n: st.integers(0, n) for n in range(16)}
_LEFT_OUT = st.tuples(_SMALL[7], _SMALL[7]).map(lambda pair: pair == (0, 0))  # a required field, rarely missing


def capabilities() -> st.SearchStrategy[ModelCapabilities]:
    flags = ModelCapabilities.__dataclass_fields__
    return st.builds(ModelCapabilities, **{name: _MOSTLY_TRUE for name in flags})


def anthropic_capabilities() -> st.SearchStrategy[AnthropicCapabilities]:
    flags = AnthropicCapabilities.__dataclass_fields__
    return st.builds(AnthropicCapabilities, **{name: _MOSTLY_TRUE for name in flags})


def with_optional(base: dict[str, Strategy], optional: dict[str, Strategy]) -> Strategy:
    return st.fixed_dictionaries(base, optional=optional)


@st.composite
def some_fields(draw: st.DrawFn, table: dict[str, Strategy], names: Strategy) -> dict[str, Any]:
    """A few of the table's fields (a body with every field would stop at its first odd value)."""
    return {key: draw(table[key]) for key in draw(names)}


def field_names(table: dict[str, Strategy], most: int = 4) -> Strategy:
    return st.lists(st.sampled_from(sorted(table)), max_size=most, unique=True)


@st.composite
def _weighted(draw: st.DrawFn, plausible: Strategy, odd: Strategy, die: st.SearchStrategy[int]) -> Any:
    # one_of cannot weigh its branches: it merges repeated ones (hypothesis dedupes and flattens them).
    return draw(odd if draw(die) == 1 else plausible)


class Bodies:
    """Every strategy at one level of oddness: a field is odd once in `one_in` draws, never when it is 0.

    Built once per level, so that a plausible body spends no draws on coins: drawing is what these tests cost.
    """

    def __init__(self, one_in: int) -> None:
        self.one_in = one_in
        self._die = st.integers(1, max(one_in, 1))
        self._parts()
        self._openai_messages()
        self._openai_fields()
        self._anthropic_blocks()
        self._anthropic_fields()

    def mostly(self, plausible: Strategy, odd: Strategy = ODD) -> Strategy:
        return _weighted(plausible, odd, self._die) if self.one_in else plausible

    def cached(self, block: Strategy) -> Strategy:
        """A block, sometimes with a cache_control marker."""
        marked = st.tuples(block, self.cache_control).map(
            lambda pair: {**pair[0], "cache_control": pair[1]} if isinstance(pair[0], dict) else pair[0])
        return st.one_of(block, block, marked)

    def content(self, parts: Strategy) -> Strategy:
        return self.mostly(st.one_of(TEXT, st.lists(self.mostly(parts), max_size=3), st.none()))

    def message(self, role: str, content: Strategy, optional: dict[str, Strategy] | None = None) -> Strategy:
        return with_optional({"role": st.just(role), "content": content},
                             {"cache_control": self.cache_control, **(optional or {})})

    def _parts(self) -> None:
        m = self.mostly
        self.cache_control = m(st.one_of(
            st.just({"type": "ephemeral"}),
            st.fixed_dictionaries({"type": st.just("ephemeral"), "ttl": m(st.sampled_from(["5m", "1h"]))}),
        ))
        self.schemas = m(st.one_of(
            st.just({"type": "object", "properties": {"city": {"type": "string"}}}), st.just({}), OBJECTS))
        self.text_part = self.cached(st.fixed_dictionaries({"type": st.just("text"), "text": m(TEXT)}))
        self.image_part = self.cached(st.fixed_dictionaries({
            "type": st.just("image_url"),
            "image_url": m(st.one_of(st.fixed_dictionaries({"url": DATA_URLS}), DATA_URLS)),
        }))
        file = st.one_of(with_optional({"file_data": m(FILE_DATA)}, {"filename": m(FILENAMES)}),
                         st.just({"file_id": "file-1"}))
        self.file_part = self.cached(st.fixed_dictionaries({"type": st.just("file"), "file": m(file)}))
        self.refusal_part = st.fixed_dictionaries({"type": st.just("refusal"), "refusal": m(TEXT)})

    def _openai_messages(self) -> None:
        m = self.mostly
        self.tool_call = st.fixed_dictionaries({
            "id": m(IDS),
            "type": st.just("function"),
            "function": m(with_optional({"name": m(TOOL_NAMES)}, {"arguments": m(ARGUMENTS)})),
        })
        thinking = st.lists(m(st.one_of(
            st.fixed_dictionaries({"type": st.just("thinking"), "thinking": m(TEXT), "signature": m(TEXT)}),
            st.fixed_dictionaries({"type": st.just("redacted_thinking"), "data": m(st.one_of(BASE64, NOT_BASE64))}),
        )), max_size=2)
        user_parts = st.one_of(self.text_part, self.image_part, self.file_part)
        self.system_message = st.one_of(self.message("system", self.content(self.text_part)),
                                        self.message("developer", self.content(self.text_part)))
        self.user_message = self.message("user", m(st.one_of(SAID, st.lists(m(user_parts), min_size=1, max_size=3))))
        self.assistant_message = self.message(
            "assistant", self.content(st.one_of(self.text_part, self.refusal_part)),
            {"reasoning_content": m(TEXT), "reasoning_signature": m(TEXT), "thinking_blocks": m(thinking)},
        )
        self.tool_answer = self.message("tool", self.content(st.one_of(self.text_part, self.image_part)))
        self.stray_message = st.one_of(
            self.system_message,
            self.message("user", self.content(user_parts)),
            self.message("assistant", self.content(self.text_part), {"tool_calls": m(st.lists(self.tool_call))}),
            self.message("tool", self.content(self.text_part), {"tool_call_id": m(IDS)}),
            st.fixed_dictionaries({"role": m(st.sampled_from(["function", "bot", ""]))}),
            ODD,
        )

    def _openai_fields(self) -> None:
        m = self.mostly
        function = with_optional({"name": m(TOOL_NAMES)}, {
            "description": m(TEXT), "parameters": self.schemas, "strict": m(st.booleans()),
            "cache_control": self.cache_control,
        })
        tool = self.cached(with_optional({"type": m(st.just("function")), "function": m(function)}, {}))
        by_name = st.fixed_dictionaries({"name": TOOL_NAMES})
        named = st.fixed_dictionaries({"type": st.just("function"), "function": by_name})
        json_schema = m(with_optional({}, {
            "name": m(st.sampled_from(["answer", "bad name", ""])), "schema": self.schemas, "description": m(TEXT),
            "strict": st.booleans(),
        }))
        response_format = st.one_of(
            st.fixed_dictionaries({"type": st.sampled_from(["text", "json_object"])}),
            st.fixed_dictionaries({"type": st.just("json_schema"), "json_schema": json_schema}),
            st.sampled_from(["json_object", "text"]),
        )
        guardrail = with_optional(
            {"guardrailIdentifier": m(st.sampled_from(["gr1", "abc123"])), "guardrailVersion": m(st.just("1"))},
            {"trace": m(st.sampled_from(["enabled", "disabled", "enabled_full"])),
             "streamProcessingMode": m(st.sampled_from(["sync", "async"])), "extra": JSON_VALUES},
        )
        caching = with_optional({}, {"system": m(st.booleans()), "tools": m(st.booleans()),
                                     "messages": m(st.booleans()), "ttl": m(st.sampled_from(["5m", "1h"]))})
        self.openai_fields: dict[str, Strategy] = {
            "max_tokens": m(INTS), "max_completion_tokens": m(INTS),
            "temperature": m(st.one_of(st.floats(0, 2), st.sampled_from([0, 1, 2, 1.5, -0.1, 2.5]))),
            "top_p": m(st.floats(0, 1)), "stop": m(st.one_of(TEXT, st.lists(TEXT, max_size=3))),
            "stream": m(st.booleans()), "stream_options": m(st.fixed_dictionaries({"include_usage": m(st.booleans())})),
            "tools": m(st.lists(tool, max_size=3)),
            "tool_choice": m(st.one_of(st.sampled_from(["auto", "none", "required"]), named)),
            "functions": m(st.lists(m(function), max_size=3)),
            "function_call": m(st.one_of(st.sampled_from(["auto", "none"]), by_name)),
            "response_format": m(response_format), "reasoning_effort": m(st.sampled_from(["low", "medium", "high"])),
            "thinking": m(with_optional({"type": m(st.sampled_from(["enabled", "disabled", "adaptive"]))},
                                        {"budget_tokens": m(INTS)})),
            "top_k": m(INTS), "prompt_caching": m(st.one_of(st.booleans(), caching)),
            "guardrailConfig": m(guardrail), "additionalModelRequestFields": m(OBJECTS),
            "additionalModelResponseFieldPaths": m(st.lists(m(st.sampled_from(["/stop_sequence", "", "p" * 300])))),
            "performanceConfig": m(with_optional({"latency": m(st.sampled_from(["standard", "optimized"]))},
                                                 {"extra": JSON_VALUES})),
            "requestMetadata": m(st.dictionaries(METADATA_KEYS, m(TEXT), max_size=3)),
            "n": m(st.sampled_from([1, 2, None])), "logprobs": m(st.booleans()),
            "frequency_penalty": m(st.sampled_from([0, 0.5])), "user": m(TEXT), "seed": m(INTS),
            "metadata": m(st.dictionaries(JSON_KEYS, TEXT, max_size=2)), "parallel_tool_calls": m(st.booleans()),
            "zzz_unknown": JSON_VALUES,
        }
        self.openai_names = field_names(self.openai_fields)

    def _anthropic_blocks(self) -> None:
        m = self.mostly
        source = st.one_of(
            st.fixed_dictionaries({
                "type": st.just("base64"),
                "media_type": m(st.sampled_from(["image/png", "image/jpeg", "application/pdf", "text/plain"])),
                "data": m(st.one_of(BASE64, NOT_BASE64, BLANK)),
            }),
            st.fixed_dictionaries({"type": st.just("text"), "media_type": st.just("text/plain"), "data": m(TEXT)}),
            st.fixed_dictionaries({"type": st.just("content"),
                                   "content": m(st.one_of(TEXT, st.lists(self.text_part)))}),
            st.fixed_dictionaries({"type": st.sampled_from(["url", "file"]), "url": st.just("https://example.com/x")}),
        )
        self.a_text = self.cached(st.fixed_dictionaries({"type": st.just("text"), "text": m(TEXT)}))
        self.a_image = self.cached(st.fixed_dictionaries({"type": st.just("image"), "source": m(source)}))
        self.a_document = self.cached(with_optional({"type": st.just("document"), "source": m(source)},
                                                    {"title": m(TEXT)}))
        reference = st.fixed_dictionaries({"type": st.just("tool_reference"), "tool_name": TEXT})
        result_content = m(st.one_of(
            TEXT, st.lists(m(st.one_of(self.a_text, self.a_image, self.a_document, reference)), max_size=2)))
        result_extra = {"content": result_content, "is_error": m(st.booleans())}
        self.a_result_fields = with_optional({}, result_extra)
        self.a_tool_result = self.cached(with_optional(
            {"type": st.just("tool_result"), "tool_use_id": m(IDS)}, result_extra))
        self.a_tool_use = self.cached(with_optional(
            {"type": st.just("tool_use"), "id": m(IDS), "name": m(TOOL_NAMES)}, {"input": m(OBJECTS)}))
        self.a_thinking = st.one_of(
            st.fixed_dictionaries({"type": st.just("thinking"), "thinking": m(TEXT), "signature": m(TEXT)}),
            st.fixed_dictionaries({"type": st.just("redacted_thinking"), "data": m(st.one_of(BASE64, NOT_BASE64))}),
        )
        odd_block = st.one_of(
            st.fixed_dictionaries({"type": st.sampled_from(["server_tool_use", "search_result", "container_upload"])}),
            ODD,
        )
        def turn(role: str, block: Strategy) -> Strategy:
            content = m(st.one_of(SAID, st.lists(m(block, odd_block), min_size=1, max_size=3)))
            return st.fixed_dictionaries({"role": st.just(role), "content": content})

        self.a_user = turn("user", st.one_of(self.a_text, self.a_image, self.a_document, self.a_tool_result))
        self.a_assistant = turn("assistant", st.one_of(self.a_text, self.a_tool_use, self.a_thinking))
        self.a_system = turn("system", self.a_text)
        self.a_stray = st.one_of(self.a_system, with_optional(
            {"role": m(st.just("user")), "content": st.just("Hi")}, {"id": TEXT, "name": TEXT}))

    def _anthropic_fields(self) -> None:
        m = self.mostly
        tool = self.cached(st.one_of(
            with_optional({"name": m(TOOL_NAMES)}, {
                "description": m(TEXT), "input_schema": self.schemas, "strict": m(st.booleans()),
                "defer_loading": st.booleans(), "type": st.just("custom"),
            }),
            st.fixed_dictionaries({"name": TOOL_NAMES, "type": st.sampled_from(
                ["web_search_20250305", "bash_20250124", "tool_search_tool_regex", "text_editor_20250728"])}),
        ))
        json_format = m(st.fixed_dictionaries({"type": m(st.just("json_schema")), "schema": self.schemas}))
        self.anthropic_fields: dict[str, Strategy] = {
            "system": m(st.one_of(TEXT, st.lists(m(st.one_of(self.a_text, BILLING_BLOCK)), max_size=3))),
            "temperature": m(st.one_of(st.floats(0, 1), st.sampled_from([1.5, 2, -0.5]))),
            "top_p": m(st.floats(0, 1)), "top_k": m(INTS), "stop_sequences": m(st.lists(TEXT, max_size=3)),
            "stream": m(st.booleans()), "tools": m(st.lists(m(tool), max_size=3)),
            "tool_choice": m(with_optional({"type": m(st.sampled_from(["auto", "any", "tool", "none"]))},
                                           {"name": TOOL_NAMES, "disable_parallel_tool_use": st.booleans()})),
            "thinking": m(with_optional({"type": m(st.sampled_from(["enabled", "disabled", "adaptive"]))},
                                        {"budget_tokens": m(INTS)})),
            "output_config": m(with_optional({}, {"format": json_format, "effort": m(st.just("high"))})),
            "output_format": json_format,
            "metadata": m(with_optional({}, {"user_id": m(TEXT), "other": TEXT})),
            "anthropic_beta": m(st.one_of(st.lists(TEXT, max_size=2), TEXT)),
            "context_management": OBJECTS, "service_tier": m(st.just("auto")),
            "mcp_servers": m(st.lists(JSON_VALUES, max_size=1)), "container": JSON_VALUES, "zzz_unknown": JSON_VALUES,
        }
        self.anthropic_names = field_names(self.anthropic_fields)


LEVELS = [Bodies(0), Bodies(40), Bodies(6)]


@st.composite
def _openai_messages(draw: st.DrawFn, b: Bodies) -> list[Any]:
    """A conversation: system, user turns each followed by nothing, an answer or a tool round, maybe a prefill."""
    messages: list[Any] = [draw(b.system_message)] if draw(st.booleans()) else []
    for _ in range(1 + draw(_SMALL[2])):
        messages.append(draw(b.user_message))
        kind = draw(_SMALL[2])
        if kind == 1:
            messages.append(draw(b.assistant_message))
        elif kind == 2:  # a tool round: the calls, then an answer to each
            calls = draw(st.lists(b.tool_call, min_size=1, max_size=2))
            messages.append({**draw(b.assistant_message), "tool_calls": calls})
            messages += [{**draw(b.tool_answer), "tool_call_id": call["id"]} for call in calls]
    if draw(_SMALL[5]) == 0:
        messages.append(draw(b.assistant_message))
    if draw(_SMALL[3]) == 0:
        messages.insert(draw(_SMALL[min(len(messages), 15)]), draw(b.stray_message))
    return messages


@st.composite
def _anthropic_messages(draw: st.DrawFn, b: Bodies) -> list[Any]:
    """Alternating turns, tool_use answered by a tool_result with its id, sometimes a system message between."""
    messages: list[Any] = []
    for _ in range(1 + draw(_SMALL[2])):
        messages.append(draw(b.a_user))
        if draw(st.booleans()):
            turn = draw(b.a_assistant)
            messages.append(turn)
            blocks = turn["content"] if isinstance(turn["content"], list) else []
            uses = [x for x in blocks if isinstance(x, dict) and x.get("type") == "tool_use"]
            results = [{"type": "tool_result", "tool_use_id": u.get("id"), **draw(b.a_result_fields)} for u in uses]
            if results:
                messages.append({"role": "user", "content": results})
    if draw(_SMALL[3]) == 0:
        messages.insert(draw(_SMALL[min(len(messages), 15)]), draw(b.a_stray))
    return messages


@st.composite
def openai_chat_bodies(draw: st.DrawFn) -> dict[str, Any]:
    b = draw(st.sampled_from(LEVELS))
    body: dict[str, Any] = {"model": draw(b.mostly(st.just("claude-test")))}
    if not draw(_LEFT_OUT):
        body["messages"] = draw(b.mostly(_openai_messages(b)))
    return {**body, **draw(some_fields(b.openai_fields, b.openai_names))}


@st.composite
def anthropic_bodies(draw: st.DrawFn) -> dict[str, Any]:
    b = draw(st.sampled_from(LEVELS))
    body: dict[str, Any] = {"model": draw(b.mostly(st.just("claude-test")))}
    if not draw(_LEFT_OUT):
        body["max_tokens"] = draw(b.mostly(INTS))
    if not draw(_LEFT_OUT):
        body["messages"] = draw(b.mostly(_anthropic_messages(b)))
    return {**body, **draw(some_fields(b.anthropic_fields, b.anthropic_names))}
