"""Format Python values as GVariant text and parse GVariant text printed by ostree.

Formatting targets ``ostree commit --add-metadata=KEY=VALUE``, which parses VALUE as GVariant text. Every integer is
written with an explicit type (an untyped integer would become ``int32``, not rpm-ostree's ``uint64``).
Parsing covers what ``g_variant_print`` emits: strings with escapes, booleans, typed numbers, arrays, tuples,
dicts, dict entries, ``<variant>`` values, maybes and ``@type`` annotations. Integer widths are not kept: every
integer comes back as a plain ``int``. To copy metadata exactly, keep the text (see ``GVariantText``).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence

from .errors import GvariantError
from .model import Package

PKGLIST_KEY = "rpmostree.rpmdb.pkglist"
PKGLIST_TYPE = "a(stsss)"


class Uint64(int):
    """An int to be written as GVariant ``uint64`` (``t``)."""


class Int32(int):
    """An int to be written as GVariant ``int32`` (``i``)."""


class Uint32(int):
    """An int to be written as GVariant ``uint32`` (``u``)."""


class GVariantText(str):
    """GVariant text that is passed through unchanged (e.g. copied from another commit)."""


_SIMPLE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def format_string(value: str) -> str:
    """Return ``value`` as a single-quoted GVariant string literal."""
    if "\0" in value:
        raise GvariantError(f"GVariant strings cannot contain NUL: {value!r}")
    out = ["'"]
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            raise GvariantError(f"GVariant strings must be valid UTF-8; {value!r} has a lone surrogate")
        else:
            out.append(ch)
    out.append("'")
    return "".join(out)


def type_of(value: object) -> str:
    """Return the GVariant type string ``format_value`` uses for ``value``."""
    if isinstance(value, GVariantText):
        raise GvariantError("the type of pre-formatted GVariant text is not known")
    if isinstance(value, bool):
        return "b"
    if isinstance(value, Uint64):
        return "t"
    if isinstance(value, Int32):
        return "i"
    if isinstance(value, Uint32):
        return "u"
    if isinstance(value, int):
        return "x"
    if isinstance(value, float):
        return "d"
    if isinstance(value, str):
        return "s"
    if isinstance(value, bytes):
        return "ay"
    if isinstance(value, Package):
        return "(stsss)"
    if isinstance(value, tuple):
        return "(" + "".join(type_of(v) for v in value) + ")"
    if isinstance(value, Mapping):
        return "a{sv}"
    if isinstance(value, list):
        if not value:
            return "as"
        types = {type_of(v) for v in value}
        if len(types) != 1:
            raise GvariantError(f"GVariant arrays need one element type; got {sorted(types)}")
        return "a" + types.pop()
    raise GvariantError(f"cannot format {type(value).__name__} as GVariant")


def format_value(value: object) -> str:
    """Return GVariant text for ``value`` with every integer's type written out."""
    if isinstance(value, GVariantText):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Uint64):
        if not 0 <= value < 2**64:
            raise GvariantError(f"{int(value)} does not fit in uint64")
        return f"uint64 {int(value)}"
    if isinstance(value, Uint32):
        if not 0 <= value < 2**32:
            raise GvariantError(f"{int(value)} does not fit in uint32")
        return f"uint32 {int(value)}"
    if isinstance(value, Int32):
        if not -(2**31) <= value < 2**31:
            raise GvariantError(f"{int(value)} does not fit in int32")
        return f"int32 {int(value)}"
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise GvariantError(f"{value} does not fit in int64")
        return f"int64 {value}"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return f"double {value}"
        return f"double {value!r}"
    if isinstance(value, str):
        return format_string(value)
    if isinstance(value, bytes):
        if not value:
            return "@ay []"
        return "[" + ", ".join(f"byte 0x{b:02x}" for b in value) + "]"
    if isinstance(value, Package):
        return format_value(_package_tuple(value))
    if isinstance(value, tuple):
        if not value:
            return "()"
        inner = ", ".join(format_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, Mapping):
        if not value:
            return "@a{sv} {}"
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise GvariantError(f"dict keys must be strings for a{{sv}}, got {key!r}")
            items.append(f"{format_string(key)}: <{format_value(item)}>")
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        if not value:
            return "@as []"
        type_of(value)  # refuses mixed element types before ostree does
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    raise GvariantError(f"cannot format {type(value).__name__} as GVariant")


def _package_tuple(pkg: Package | Sequence[object]) -> tuple[str, Uint64, str, str, str]:
    epoch: object
    if isinstance(pkg, Package):
        name, epoch, version, release, arch = pkg.as_tuple()
    else:
        if len(pkg) != 5:
            raise GvariantError(f"a package is (name, epoch, version, release, arch); got {pkg!r}")
        name, epoch, version, release, arch = (str(pkg[0]), pkg[1], str(pkg[2]), str(pkg[3]), str(pkg[4]))
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch < 2**64:
        raise GvariantError(f"package epoch must be an int from 0 to 2**64-1, got {epoch!r}")
    return (name, Uint64(epoch), version, release, arch)


def format_pkglist(packages: Iterable[Package | Sequence[object]]) -> str:
    """Return rpm-ostree's ``a(stsss)`` text for ``packages``; an empty list is ``@a(stsss) []``.

    Only the first tuple carries ``uint64`` (GVariant infers the rest from it), exactly as ostree prints the list:
    the text stays byte-identical to ``ostree show -B --print-metadata-key`` and 7 bytes per package shorter,
    which matters because one argument may not exceed 128 KiB.
    """
    tuples = [_package_tuple(p) for p in packages]
    if not tuples:
        return f"@{PKGLIST_TYPE} []"
    parts = []
    for index, (name, epoch, version, release, arch) in enumerate(tuples):
        typed = f"uint64 {int(epoch)}" if index == 0 else str(int(epoch))
        fields = [format_string(name), typed, format_string(version), format_string(release), format_string(arch)]
        parts.append("(" + ", ".join(fields) + ")")
    return "[" + ", ".join(parts) + "]"


def format_metadata_value(key: str, value: object) -> str:
    """Return GVariant text for metadata ``key``, using rpm-ostree's type for the package list."""
    if isinstance(value, GVariantText):
        return str(value)
    if key == PKGLIST_KEY and isinstance(value, (list, tuple)):
        return format_pkglist(value)
    return format_value(value)


def packages_from_value(value: object) -> tuple[Package, ...]:
    """Convert a parsed ``a(stsss)`` value into Package objects."""
    if not isinstance(value, list):
        raise GvariantError(f"expected a package list, got {type(value).__name__}")
    out = []
    for item in value:
        if not (isinstance(item, tuple) and len(item) == 5):
            raise GvariantError(f"expected a (stsss) tuple, got {item!r}")
        name, epoch, version, release, arch = item
        if not isinstance(epoch, int) or not all(isinstance(s, str) for s in (name, version, release, arch)):
            raise GvariantError(f"expected a (stsss) tuple, got {item!r}")
        out.append(Package(str(name), int(epoch), str(version), str(release), str(arch)))
    return tuple(out)


# ---------------------------------------------------------------- parser

_NUMBER_TYPES = {"byte", "int16", "uint16", "int32", "uint32", "int64", "uint64", "handle", "double"}
_STRING_TYPES = {"string", "objectpath", "signature"}
_BASIC_TYPE_CHARS = set("bynqiuxthdsogv*?r")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> GvariantError:
        snippet = self.text[max(0, self.pos - 20) : self.pos + 20]
        return GvariantError(f"{message} at offset {self.pos} near {snippet!r}")

    def ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.ws()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, token: str) -> None:
        self.ws()
        if not self.text.startswith(token, self.pos):
            raise self.error(f"expected {token!r}")
        self.pos += len(token)

    def word(self) -> str:
        self.ws()
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] in "_"):
            self.pos += 1
        return self.text[start : self.pos]

    def type_string(self) -> str:
        start = self.pos
        self._one_type()
        return self.text[start : self.pos]

    def _one_type(self) -> None:
        if self.pos >= len(self.text):
            raise self.error("type string ends early")
        ch = self.text[self.pos]
        self.pos += 1
        if ch in ("a", "m"):
            self._one_type()
        elif ch == "(":
            while self.pos < len(self.text) and self.text[self.pos] != ")":
                self._one_type()
            self.expect(")")
        elif ch == "{":
            self._one_type()
            self._one_type()
            self.expect("}")
        elif ch not in _BASIC_TYPE_CHARS:
            self.pos -= 1
            raise self.error(f"bad type character {ch!r}")

    def value(self) -> object:
        ch = self.peek()
        if ch == "":
            raise self.error("unexpected end of text")
        if ch == "@":
            self.pos += 1
            vtype = self.type_string()
            return self._typed(vtype, self.value())
        if ch == "<":
            self.pos += 1
            inner = self.value()
            self.expect(">")
            return inner
        if ch == "[":
            return self.array()
        if ch == "(":
            return self.tuple_()
        if ch == "{":
            return self.dict_()
        if ch in "'\"":
            return self.string()
        if ch == "b" and self.text[self.pos + 1 : self.pos + 2] in ("'", '"'):
            self.pos += 1
            return self.bytestring()
        if ch.isdigit() or ch in "-+.":
            return self.number()
        word = self.word()
        if word == "true":
            return True
        if word == "false":
            return False
        if word == "nothing":
            return None
        if word == "just":
            return self.value()
        if word in _NUMBER_TYPES:
            number = self.number()
            return float(number) if word == "double" else number
        if word in _STRING_TYPES:
            return self.string()
        if word == "boolean":
            return self.value()
        if word in ("inf", "nan"):
            return float(word)
        raise self.error(f"unknown keyword {word!r}" if word else f"unexpected character {ch!r}")

    def _typed(self, vtype: str, value: object) -> object:
        if vtype.startswith("a{") and value == []:
            return {}
        if vtype == "ay" and value == []:
            return b""
        return value

    def array(self) -> list[object]:
        self.expect("[")
        items: list[object] = []
        if self.peek() == "]":
            self.pos += 1
            return items
        while True:
            items.append(self.value())
            ch = self.peek()
            if ch == ",":
                self.pos += 1
                continue
            if ch == "]":
                self.pos += 1
                return items
            raise self.error("expected ',' or ']'")

    def tuple_(self) -> tuple[object, ...]:
        self.expect("(")
        items: list[object] = []
        if self.peek() == ")":
            self.pos += 1
            return ()
        while True:
            items.append(self.value())
            ch = self.peek()
            if ch == ",":
                self.pos += 1
                if self.peek() == ")":
                    self.pos += 1
                    return tuple(items)
                continue
            if ch == ")":
                self.pos += 1
                return tuple(items)
            raise self.error("expected ',' or ')'")

    def dict_(self) -> object:
        self.expect("{")
        result: dict[object, object] = {}
        if self.peek() == "}":
            self.pos += 1
            return result
        first_key = self.value()
        if self.peek() == ",":
            # ``{k, v}`` is a single dict entry, not a dict.
            self.pos += 1
            entry_value = self.value()
            self.expect("}")
            return (first_key, entry_value)
        self.expect(":")
        result[_hashable(first_key)] = self.value()
        while True:
            ch = self.peek()
            if ch == "}":
                self.pos += 1
                return result
            if ch != ",":
                raise self.error("expected ',' or '}'")
            self.pos += 1
            key = self.value()
            self.expect(":")
            result[_hashable(key)] = self.value()

    def string(self) -> str:
        self.ws()
        quote = self.text[self.pos]
        if quote not in "'\"":
            raise self.error("expected a string")
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.error("unterminated string")
            ch = self.text[self.pos]
            self.pos += 1
            if ch == quote:
                return "".join(out)
            if ch != "\\":
                out.append(ch)
                continue
            if self.pos >= len(self.text):
                raise self.error("unterminated escape")
            esc = self.text[self.pos]
            self.pos += 1
            if esc in _ESCAPES:
                out.append(_ESCAPES[esc])
            elif esc in ("u", "U"):
                width = 4 if esc == "u" else 8
                digits = self.text[self.pos : self.pos + width]
                if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                    raise self.error(f"bad \\{esc} escape")
                out.append(chr(int(digits, 16)))
                self.pos += width
            elif esc == "\n":
                continue
            else:
                out.append(esc)

    def bytestring(self) -> bytes:
        quote = self.text[self.pos]
        self.pos += 1
        out = bytearray()
        while True:
            if self.pos >= len(self.text):
                raise self.error("unterminated bytestring")
            ch = self.text[self.pos]
            self.pos += 1
            if ch == quote:
                return bytes(out)
            if ch != "\\":
                out.extend(ch.encode("utf-8"))
                continue
            esc = self.text[self.pos]
            self.pos += 1
            if esc in _ESCAPES:
                out.append(ord(_ESCAPES[esc]))
            elif esc in "01234567":
                digits = esc
                while len(digits) < 3 and self.pos < len(self.text) and self.text[self.pos] in "01234567":
                    digits += self.text[self.pos]
                    self.pos += 1
                out.append(int(digits, 8) & 0xFF)
            else:
                out.extend(esc.encode("utf-8"))

    def number(self) -> int | float:
        self.ws()
        start = self.pos
        if self.pos < len(self.text) and self.text[self.pos] in "+-":
            self.pos += 1
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] in ".+-"):
            # Stop at a sign that is not an exponent sign.
            if self.text[self.pos] in "+-" and self.text[self.pos - 1] not in "eE":
                break
            self.pos += 1
        token = self.text[start : self.pos]
        try:
            if token.lower().lstrip("+-").startswith("0x"):
                return int(token, 16)
            if any(c in token for c in ".eE") or token.lstrip("+-") in ("inf", "nan"):
                return float(token)
            return int(token, 10)
        except ValueError:
            raise self.error(f"bad number {token!r}") from None


def _hashable(key: object) -> object:
    if isinstance(key, list):
        return tuple(key)
    return key


def parse(text: str) -> object:
    """Parse one GVariant text value into Python (str, bool, int, float, bytes, None, list, tuple, dict)."""
    parser = _Parser(text)
    value = parser.value()
    parser.ws()
    if parser.pos != len(text):
        raise parser.error("unexpected text after the value")
    return value


def split_vardict(text: str) -> dict[str, GVariantText]:
    """Split the text of an ``a{sv}`` dict into ``{key: text of the value inside <...>}`` without re-printing it."""
    parser = _Parser(text)
    return _split_vardict_at(parser)


def _split_vardict_at(parser: _Parser) -> dict[str, GVariantText]:
    text = parser.text
    if parser.peek() == "@":
        parser.pos += 1
        parser.type_string()
    parser.expect("{")
    out: dict[str, GVariantText] = {}
    if parser.peek() == "}":
        parser.pos += 1
        return out
    while True:
        key = parser.string()
        parser.expect(":")
        parser.expect("<")
        parser.ws()
        start = parser.pos
        close = text.find(">", start)
        if close > start and not any(c in text[start:close] for c in "'\"<"):
            # No string and no nested variant before the first ">": it closes this value. This skips huge number
            # arrays (ostree.sizes: ~1.3 million bytes for 10,000 files) at C speed instead of parsing them.
            end = close
            parser.pos = close
        else:
            parser.value()
            end = parser.pos
        parser.expect(">")
        out[key] = GVariantText(text[start:end].strip())
        ch = parser.peek()
        parser.pos += 1
        if ch == "}":
            return out
        if ch != ",":
            parser.pos -= 1
            raise parser.error("expected ',' or '}'")


def split_commit_metadata(raw_commit_text: str) -> dict[str, GVariantText]:
    """Return the metadata dict of a commit printed by ``ostree show --raw -B`` as ``{key: value text}``."""
    start = raw_commit_text.find("(")
    if start < 0:
        raise GvariantError("no commit variant in the text")
    parser = _Parser(raw_commit_text)
    parser.pos = start + 1
    # Only the dict is walked: the rest of the commit (and any huge value, see _split_vardict_at) is never parsed.
    return _split_vardict_at(parser)


# ---------------------------------------------------------------- binary (serialised) GVariant

# Keys read_commit leaves out of CommitInfo.metadata: one entry per object of the tree (~1.3 million bytes for a
# 10,000-file commit), used only by `ostree show --print-sizes` and pull size estimates. Decoding it would make reading
# a commit cost grow with the tree; ``Repo.metadata_keys(include_managed=True)`` still returns its text.
UNDECODED_KEYS = frozenset({"ostree.sizes"})

_FIXED_SIZES = {"b": 1, "y": 1, "n": 2, "q": 2, "i": 4, "u": 4, "h": 4, "x": 8, "t": 8, "d": 8}
_STRUCT_CODES = {"b": "?", "y": "B", "n": "h", "q": "H", "i": "i", "u": "I", "h": "i", "x": "q", "t": "Q", "d": "d"}


def _split_types(signature: str) -> list[str]:
    """Split the member types of a tuple or dict entry body (``sv`` -> ``['s', 'v']``)."""
    parser = _Parser(signature)
    out = []
    while parser.pos < len(signature):
        out.append(parser.type_string())
    return out


def _alignment(vtype: str) -> int:
    head = vtype[0]
    if head in _FIXED_SIZES:
        return _FIXED_SIZES[head]
    if head == "v":
        return 8
    if head in "am":
        return _alignment(vtype[1:])
    if head in "({":
        return max((_alignment(t) for t in _split_types(vtype[1:-1])), default=1)
    return 1


def _fixed_size(vtype: str) -> int | None:
    head = vtype[0]
    if head in _FIXED_SIZES:
        return _FIXED_SIZES[head]
    if head in "({":
        members = _split_types(vtype[1:-1])
        if not members:
            return 1
        offset = 0
        for member in members:
            size = _fixed_size(member)
            if size is None:
                return None
            offset = _align(offset, _alignment(member)) + size
        return _align(offset, _alignment(vtype))
    return None


def _align(offset: int, alignment: int) -> int:
    return (offset + alignment - 1) & ~(alignment - 1)


def _offset_size(container_size: int) -> int:
    if container_size == 0:
        return 0
    if container_size <= 0xFF:
        return 1
    if container_size <= 0xFFFF:
        return 2
    if container_size <= 0xFFFFFFFF:
        return 4
    return 8


def _read_offset(data: memoryview, at: int, size: int) -> int:
    return int.from_bytes(data[at : at + size], "little")


def _array_elements(vtype: str, data: memoryview) -> list[memoryview]:
    """Return the serialised elements of an array of ``vtype`` elements."""
    if not data:
        return []
    size = _fixed_size(vtype)
    if size is not None:
        if len(data) % size:
            raise GvariantError(f"array of {vtype} is {len(data)} bytes, not a multiple of {size}")
        return [data[i : i + size] for i in range(0, len(data), size)]
    width = _offset_size(len(data))
    table = _read_offset(data, len(data) - width, width)
    if table > len(data) or (len(data) - table) % width:
        raise GvariantError(f"bad framing offsets in an array of {vtype}")
    count = (len(data) - table) // width
    alignment = _alignment(vtype)
    out, start = [], 0
    for index in range(count):
        end = _read_offset(data, table + index * width, width)
        start = _align(start, alignment)
        if not start <= end <= table:
            raise GvariantError(f"bad framing offset in an array of {vtype}")
        out.append(data[start:end])
        start = end
    return out


def _tuple_members(members: list[str], data: memoryview) -> list[memoryview]:
    width = _offset_size(len(data))
    frame_end = len(data)
    out, start = [], 0
    for index, member in enumerate(members):
        start = _align(start, _alignment(member))
        size = _fixed_size(member)
        if size is not None:
            end = start + size
        elif index == len(members) - 1:
            end = frame_end
        else:
            frame_end -= width
            end = _read_offset(data, frame_end, width)
        if not start <= end <= len(data):
            raise GvariantError("bad framing offset in a tuple")
        out.append(data[start:end])
        start = end
    return out


def decode_binary(vtype: str, data: bytes | memoryview) -> object:
    """Decode serialised little-endian GVariant ``data`` of type ``vtype`` into the values ``parse`` returns.

    ``ay`` becomes ``bytes``; arrays of dict entries become dicts; variants and maybes are unwrapped.
    """
    view = memoryview(data) if not isinstance(data, memoryview) else data
    head = vtype[0]
    if head in _STRUCT_CODES:
        size = _FIXED_SIZES[head]
        if len(view) != size:
            raise GvariantError(f"a {vtype} value must be {size} bytes, got {len(view)}")
        value = struct.unpack("<" + _STRUCT_CODES[head], view)[0]
        return bool(value) if head == "b" else value
    if head in "sog":
        raw = bytes(view)
        if not raw.endswith(b"\0"):
            raise GvariantError("a serialised string must end with NUL")
        return raw[:-1].decode("utf-8", errors="replace")
    if head == "v":
        raw = bytes(view)
        split = raw.rfind(b"\0")
        if split < 0:
            raise GvariantError("a serialised variant has no type string")
        return decode_binary(raw[split + 1 :].decode("ascii"), view[:split])
    if head == "m":
        if not view:
            return None
        inner = vtype[1:]
        return decode_binary(inner, view if _fixed_size(inner) is not None else view[:-1])
    if head == "a":
        element = vtype[1:]
        if element == "y":
            return bytes(view)
        items = [decode_binary(element, chunk) for chunk in _array_elements(element, view)]
        if element.startswith("{"):
            pairs = [item for item in items if isinstance(item, tuple) and len(item) == 2]
            return {_hashable(pair[0]): pair[1] for pair in pairs}
        return items
    if head in "({":
        members = _split_types(vtype[1:-1])
        values = tuple(decode_binary(t, chunk) for t, chunk in zip(members, _tuple_members(members, view), strict=True))
        return values
    raise GvariantError(f"cannot decode GVariant type {vtype!r}")


COMMIT_TYPE = "(a{sv}aya(say)sstayay)"


def commit_metadata_entries(commit_object: bytes) -> dict[str, tuple[str, memoryview]]:
    """Return ``{key: (type string, serialised value)}`` of a commit object's metadata without decoding values."""
    view = memoryview(commit_object)
    members = _split_types(COMMIT_TYPE[1:-1])
    metadata = _tuple_members(members, view)[0]
    out: dict[str, tuple[str, memoryview]] = {}
    for entry in _array_elements("{sv}", metadata):
        key_chunk, variant = _tuple_members(["s", "v"], entry)
        key = decode_binary("s", key_chunk)
        assert isinstance(key, str)
        raw = bytes(variant[-64:]) if len(variant) > 64 else bytes(variant)
        split = raw.rfind(b"\0")
        if split < 0:
            raise GvariantError(f"metadata key {key!r} has no type string")
        vtype = raw[split + 1 :].decode("ascii")
        out[key] = (vtype, variant[: len(variant) - len(raw) + split])
    return out


def decode_commit_object(commit_object: bytes) -> tuple[dict[str, object], str | None, str, str]:
    """Return (metadata, parent checksum, subject, body) of a serialised commit object.

    Metadata values are decoded as ``ostree show -B`` prints them (no byte swapping); ``UNDECODED_KEYS`` are left out.
    """
    view = memoryview(commit_object)
    members = _split_types(COMMIT_TYPE[1:-1])
    chunks = _tuple_members(members, view)
    metadata = {
        key: decode_binary(vtype, chunk)
        for key, (vtype, chunk) in commit_metadata_entries(commit_object).items()
        if key not in UNDECODED_KEYS
    }
    parent = bytes(chunks[1]).hex() or None
    subject = decode_binary("s", chunks[3])
    body = decode_binary("s", chunks[4])
    return metadata, parent, str(subject), str(body)
