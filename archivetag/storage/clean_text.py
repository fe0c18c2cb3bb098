"""Text as every database can store it: what a model wrote, an import brought or a decoder
said, cleaned the same way whoever writes it (storage/schema.py `CleanText`)."""

# C0 and C1 control characters except tab, line feed and carriage return, and lone UTF-16
# surrogates (a JSON "\udcff" decodes to one; no UTF-8 database can store it). PostgreSQL's
# text cannot hold NUL at all; the rest break terminals and subtitle players. Removed, so
# that every database stores the same text.
_CONTROL = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F,
                          *range(0x80, 0xA0),
                          *range(0xD800, 0xE000)])  # lone surrogates: not encodable at all


def storable_text(text: str) -> str:
    """`text` without control characters (see `_CONTROL`), as every database can store it."""
    return text.translate(_CONTROL)
