import pytest

from bulkyard.jobs.kinds import ChunkContext, FinishContext, FinishedChunk, Item
from bulkyard.text.kinds import TextStatsKind
from bulkyard.text.params import TextStatsParams

KIND = TextStatsKind()


def _ctx(**params) -> ChunkContext[TextStatsParams]:
    return ChunkContext(job_id="j", chunk_sequence=0, params=TextStatsParams(**params))


def _run(data, **params):
    return KIND.run_item(Item(2, data), _ctx(**params))


def test_counts_words_sentences_lines_and_reading_time():
    result = _run(
        {"id": "d1", "text": "Hello there, world! It's a test.\nSecond line: done?"},
        words_per_minute=60,
        top_words=2,
    )

    assert result.succeeded
    assert result.output == {
        "id": "d1",
        "characters": 51,
        "words": 9,
        "sentences": 3,
        "lines": 2,
        "reading_seconds": 9.0,
        "top_words": ["hello", "there"],
    }


def test_text_without_terminal_punctuation_is_one_sentence():
    assert _run({"text": "no full stop here"}).output["sentences"] == 1


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"body": "x"}, "missing_field"),
        ({"text": 42}, "invalid_type"),
        (["text"], "invalid_item"),
        ({"text": "x" * 11}, "too_large"),
    ],
)
def test_unusable_items_fail_with_a_code(data, code):
    result = _run(data, max_characters=10)

    assert not result.succeeded
    assert result.code == code


def test_a_custom_text_field_is_read():
    assert _run({"body": "one two"}, text_field="body").output["words"] == 2


def test_finish_merges_chunk_totals():
    params = TextStatsParams(words_per_minute=100)
    finished = KIND.finish(
        FinishContext(
            job_id="j",
            owner_id=1,
            params=params,
            cancelled=False,
            chunks=[
                FinishedChunk(
                    sequence=0,
                    pass_number=1,
                    succeeded=2,
                    summary={"documents": 2, "characters": 30, "words": 150, "sentences": 4},
                ),
                FinishedChunk(
                    sequence=1,
                    pass_number=1,
                    succeeded=1,
                    summary={"documents": 1, "characters": 10, "words": 50, "sentences": 1},
                ),
            ],
            counts={},
        )
    )

    assert finished.summary == {
        "documents": 3,
        "characters": 40,
        "words": 200,
        "sentences": 5,
        "average_words": 66.7,
        "reading_minutes": 2.0,
    }
