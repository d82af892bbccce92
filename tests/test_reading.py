"""Reading state in the store: read/unread and saved posts (kb/store/reading.py)."""

from __future__ import annotations

import pytest

from kb.store import reading
from kb.store.posts import PostRecord, save_post


def _post(store, slug: str, published: str | None) -> str:
    url = f"https://example.org/{slug}"
    pid, _ = save_post(store, PostRecord(title=slug.title(), text=f"Text of {slug}.", urls=[url],
                                         origin=url, published=published))
    return pid


@pytest.fixture
def three(store):
    return [_post(store, "old", "2025-01-05T10:00:00Z"), _post(store, "mid", "2025-02-01T09:00:00Z"),
            _post(store, "new", "2025-03-01T08:00:00Z")]


def test_posts_start_unread_and_mark_read_counts_changes(store, three):
    a, b, c = three
    assert reading.unread_ids(store, three) == set(three)
    assert reading.mark_read(store, [a, a]) == 1
    assert reading.mark_read(store, [a, c]) == 1  # a was read already
    assert reading.is_read(store, a) and reading.is_read(store, c)
    assert reading.unread_ids(store, three) == {b}
    assert reading.mark_unread(store, [a, b]) == 1  # b was not read
    assert reading.unread_ids(store, three) == {a, b}
    assert not reading.is_read(store, a)


def test_unknown_id_raises_naming_it_and_changes_nothing(store, three):
    with pytest.raises(reading.UnknownPostError, match="nosuchpost") as err:
        reading.mark_read(store, [three[0], "nosuchpost"])
    assert err.value.ids == ["nosuchpost"]
    assert reading.unread_ids(store, three) == set(three)
    for fn in (reading.is_read, reading.is_saved):
        with pytest.raises(reading.UnknownPostError, match="ghost"):
            fn(store, "ghost")
    with pytest.raises(reading.UnknownPostError):
        reading.mark_unread(store, ["ghost"])
    # a list query is told about shown posts only: unknown ids are simply not unread posts
    assert reading.unread_ids(store, ["ghost", three[1]]) == {three[1]}


def test_mark_all_read_before_a_date(store, three):
    undated = _post(store, "undated", None)
    assert reading.mark_all_read(store, before="2025-02-01") == 1  # only "old": mid is on the day
    assert reading.unread_ids(store, [*three, undated]) == {three[1], three[2], undated}
    assert reading.mark_all_read(store, before="2025-03-01T12:00:00Z") == 1  # mid; date part only
    assert reading.mark_all_read(store) == 2  # new and undated
    assert reading.unread_ids(store, [*three, undated]) == set()
    assert reading.mark_all_read(store) == 0
    with pytest.raises(ValueError, match="not a date"):
        reading.mark_all_read(store, before="last week")


def test_saved_posts_newest_saved_first(store, three):
    a, b, c = three
    assert reading.saved_ids(store) == []
    assert reading.set_saved(store, b, True) and reading.set_saved(store, a, True)
    assert reading.set_saved(store, c, True)
    assert reading.saved_ids(store) == [c, a, b]
    assert reading.set_saved(store, a, True)  # saving twice keeps its place
    assert reading.saved_ids(store) == [c, a, b]
    assert reading.set_saved(store, c, False)
    assert reading.saved_ids(store) == [a, b]
    assert reading.is_saved(store, a) and not reading.is_saved(store, c)
    assert reading.set_saved(store, "ghost", True) is False
    assert reading.saved_ids(store) == [a, b]


def test_reading_state_goes_with_the_post(store, three):
    reading.mark_read(store, [three[0]])
    reading.set_saved(store, three[0], True)
    with store.tx() as conn:
        conn.execute("DELETE FROM posts WHERE id = ?", (three[0],))
    assert reading.saved_ids(store) == [] and reading.read_ids(store) == set()
