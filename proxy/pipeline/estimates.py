"""What admission assumes before the upstream has answered; real usage always wins at settle time."""

from __future__ import annotations

from proxy.providers.base import CHARS_PER_TOKEN
from translators.usage import Usage

COMPLETION_ALLOWANCE = 256  # TPM estimate when the client sets no max_tokens; corrected on settle
WORST_CASE_COMPLETION = 4096  # budget reservation when the client sets no max_tokens


def estimated_usage(prompt_estimate: int, generated_chars: int) -> Usage:
    """Only when the upstream never reported usage (a cut stream): the prompt estimate + what we relayed."""
    return Usage(input_tokens=prompt_estimate, output_tokens=-(-generated_chars // CHARS_PER_TOKEN))
