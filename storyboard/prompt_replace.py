"""Find and replace across the shots' prompts (no Qt): a character renamed, a location respelled in every shot."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class PromptReplace:
    find: str
    replace: str = ""
    match_case: bool = False
    whole_words: bool = False

    def pattern(self) -> re.Pattern[str] | None:
        """None while there is nothing to find."""
        if not self.find:
            return None
        text = re.escape(self.find)
        # A word boundary only where the text itself starts or ends with a word character: "Mr." as a whole word
        # still matches before a space.
        if self.whole_words:
            text = (r"(?<!\w)" if re.match(r"\w", self.find) else "") + text + \
                (r"(?!\w)" if re.search(r"\w$", self.find) else "")
        return re.compile(text, 0 if self.match_case else re.IGNORECASE)


def count_matches(prompts: list[str], spec: PromptReplace) -> tuple[int, list[int]]:
    """(matches, the indexes of the prompts with a match): the dialog names those shots, not only their count."""
    pattern = spec.pattern()
    if pattern is None:
        return 0, []
    counts = [len(pattern.findall(prompt)) for prompt in prompts]
    return sum(counts), [index for index, n in enumerate(counts) if n]


def replaced_prompts(prompts: list[str], spec: PromptReplace) -> dict[int, str]:
    """{index: new prompt} for every prompt the replacement changes; the replacement is literal text (no
    backreferences), as typed."""
    pattern = spec.pattern()
    if pattern is None:
        return {}
    changed = {}
    for index, prompt in enumerate(prompts):
        new = pattern.sub(lambda _match: spec.replace, prompt)
        if new != prompt:
            changed[index] = new
    return changed
