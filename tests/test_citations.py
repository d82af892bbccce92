from digest.citations import find_markers, strip_invalid_markers


def test_find_markers_in_order_and_grouped():
    assert find_markers("A [2] b [1, 3] c [2][4].") == [2, 1, 3, 4]


def test_invalid_markers_removed_and_reported():
    text, removed = strip_invalid_markers("Claim [1]. Other [7]. Mixed [2, 9].", {1, 2})
    assert text == "Claim [1]. Other. Mixed [2]."
    assert removed == [7, 9]


def test_years_and_links_are_not_markers():
    assert find_markers("In 2025 see [link](http://x/1) and [1234].") == []
