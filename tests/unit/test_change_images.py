"""Reading a run's changes decodes a chunk's images with one `json.loads` of them all
(service.history._decoded): it must give exactly what decoding each one gives, and an
image edited by hand into text that would shift the others is never read as two."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custimport.service.history import _decoded

values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
images = st.lists(st.one_of(st.none(), st.lists(values, max_size=6).map(json.dumps)), max_size=30)


@given(images)
def test_decoding_a_chunk_at_once_equals_decoding_each_image(texts: list[str | None]) -> None:
    assert _decoded(texts) == [None if t is None else json.loads(t) for t in texts]


@pytest.mark.parametrize("edited", ["[1],[9]", "1],[2", "[1", "[1]]"])
def test_an_image_edited_into_something_else_is_an_error_not_two_images(edited: str) -> None:
    with pytest.raises(ValueError):
        _decoded(["[5]", edited, None, "[7]"])
