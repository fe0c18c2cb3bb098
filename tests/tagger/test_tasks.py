"""Task definitions and tag parsing, which must never raise on odd model output."""

import pytest

from archivetag.tagger.tasks import DEFAULT_TASKS, Tags, Task, parse_tags


def test_default_tasks_use_the_evaluation_prompts():
    assert DEFAULT_TASKS["caption"].prompt == "Write an audio caption describing the sound"
    assert DEFAULT_TASKS["tags"].prompt == "Which labels describe the sound?"
    assert set(DEFAULT_TASKS) == {"caption", "tags", "transcript", "language", "genre"}
    assert all(task.max_new_tokens > 0 for task in DEFAULT_TASKS.values())


def test_user_defined_task():
    task = Task("birds", "Which bird species can be heard?", 32)
    assert (task.name, task.max_new_tokens) == ("birds", 32)
    with pytest.raises(ValueError, match="task name"):
        Task("Bad Name", "x", 8)
    with pytest.raises(ValueError, match="empty prompt"):
        Task("empty", "  ", 8)
    with pytest.raises(ValueError, match="at least 1"):
        Task("zero", "x", 0)


def test_tags_are_split_trimmed_deduplicated_and_normalised():
    tags = parse_tags(
        "Speech; Male speech, man speaking;Music;speech;Man  speaking;;Splash, splatter"
    )
    assert tags.raw == (
        "Speech",
        "Male speech, man speaking",
        "Music",
        "speech",
        "Man  speaking",
        "Splash, splatter",
    )
    assert tags.normalised == ("speech", "male speech, man speaking", "music", "splash, splatter")


@pytest.mark.parametrize("text", ["", "   ", ";;;", "\x00\ufffd;\n", "A dog barks."])
def test_odd_output_never_raises(text):
    tags = parse_tags(text)
    assert isinstance(tags, Tags)
    assert all(tag.strip() for tag in tags.raw)
