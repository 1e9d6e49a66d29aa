"""What a piece of text shows a reader: direction controls, and nothing at all.

Plain functions with no database, for the validators (forum.services.validation)
and the seed file reader alike.
"""

import unicodedata

# Embeddings, overrides and isolates: typed into an answer, they reorder the
# words shown after it, so a disclosure could read otherwise than it was
# given. The marks U+200E and U+200F only steer their neighbours, and are kept.
BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
# What shows nothing: format and control characters, spaces and separators
# (by category), and the letters and marks fonts draw blank.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
BLANK_CHARACTERS = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0"
    + "".join(map(chr, [*range(0x180B, 0x1810), *range(0xFE00, 0xFE10)]))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)


def shows_nothing(text: str) -> bool:
    """Whether a reader sees nothing in `text`: it holds no visible character."""
    return all(
        char in BLANK_CHARACTERS or unicodedata.category(char) in INVISIBLE_CATEGORIES
        for char in text
    )


def has_bidi_controls(text: str) -> bool:
    return not BIDI_CONTROLS.isdisjoint(text)
