"""Find and replace in prompts: literal text, case, whole words; never a regex surprise."""

from hypothesis import given
from hypothesis import strategies as st

from storyboard.prompt_replace import PromptReplace, count_matches, replaced_prompts

PROMPTS = ["Lin Daiyu steps down. Daiyu smiles.", "A maid follows Daiyu's sedan.", "Plum blossoms (Daiyu)?",
           "daiyu and DAIYU", "Nobody here."]


def test_every_match_in_every_prompt_is_counted_and_replaced_as_typed():
    spec = PromptReplace("Daiyu", "Baochai")
    assert count_matches(PROMPTS, spec) == (6, [0, 1, 2, 3])
    assert replaced_prompts(PROMPTS, spec) == {
        0: "Lin Baochai steps down. Baochai smiles.", 1: "A maid follows Baochai's sedan.",
        2: "Plum blossoms (Baochai)?", 3: "Baochai and Baochai"}
    assert count_matches(PROMPTS, PromptReplace("Daiyu", match_case=True)) == (4, [0, 1, 2])


def test_whole_words_and_text_with_regex_characters_are_literal():
    assert replaced_prompts(["a maid, a mermaid"], PromptReplace("maid", "girl", whole_words=True)) == \
        {0: "a girl, a mermaid"}
    # "(Daiyu)?" is text here, not a pattern; a replacement with "\1" stays "\1".
    assert replaced_prompts(PROMPTS, PromptReplace("(Daiyu)?", r"\1 $0")) == {2: r"Plum blossoms \1 $0"}
    assert replaced_prompts(["Mr. Jia bows. Mr.Jia"], PromptReplace("Mr.", "Lord", whole_words=True)) == \
        {0: "Lord Jia bows. LordJia"}
    assert count_matches(PROMPTS, PromptReplace("")) == (0, []) and replaced_prompts(PROMPTS, PromptReplace("")) == {}


@given(prompts=st.lists(st.text(max_size=40), max_size=6), find=st.text(min_size=1, max_size=6),
       replace=st.text(max_size=6), match_case=st.booleans(), whole_words=st.booleans())
def test_any_find_and_replace_changes_exactly_the_prompts_it_counts(prompts, find, replace, match_case, whole_words):
    spec = PromptReplace(find, replace, match_case, whole_words)
    matches, hit = count_matches(prompts, spec)
    changed = replaced_prompts(prompts, spec)
    assert set(changed) <= set(hit) and len(hit) <= len(prompts) and matches >= len(hit)
    if replace == "":
        assert sorted(changed) == hit  # removing a match always changes the prompt
    assert all(i in range(len(prompts)) and changed[i] != prompts[i] for i in changed)
    if match_case and not whole_words:
        assert all(changed[i] == prompts[i].replace(find, replace) for i in changed)
