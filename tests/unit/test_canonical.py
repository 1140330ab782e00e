from service.domain.canonical import canonical_json, content_hash


def test_keys_are_sorted_and_whitespace_removed() -> None:
    assert canonical_json({"b": 1, "a": [True, None, "x"]}) == b'{"a":[true,null,"x"],"b":1}'


def test_numbers_take_their_shortest_form() -> None:
    assert canonical_json([1.0, 1e21, 0.1, -0.0]) == b"[1,1e+21,0.1,0]"


def test_non_ascii_text_is_kept_as_utf8() -> None:
    assert canonical_json({"t": "Café €"}) == '{"t":"Café €"}'.encode()


def test_the_hash_ignores_key_order_but_not_content() -> None:
    assert content_hash({"a": 1, "b": 2}) == content_hash({"b": 2, "a": 1})
    assert content_hash({"a": 1, "b": 2}) != content_hash({"a": 1, "b": 3})
