"""Format Python values as GVariant text and parse GVariant text printed by ostree.

Formatting targets ``ostree commit --add-metadata=KEY=VALUE``, which parses VALUE as GVariant text. Every integer is
written with an explicit type (an untyped integer would become ``int32``, not rpm-ostree's ``uint64``).
Parsing covers what ``g_variant_print`` emits: strings with escapes, booleans, typed numbers, arrays, tuples,
dicts, dict entries, ``<variant>`` values, maybes and ``@type`` annotations. Integer widths are not kept: every
integer comes back as a plain ``int``. To copy metadata exactly, keep the text (see ``GVariantText``).
"""

from __future__ import annotations

import math
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
    parser.ws()
    begin = parser.pos
    parser.value()
    return split_vardict(raw_commit_text[begin : parser.pos])
