"""Convert between Python values and GLib's own GVariant (through PyGObject) for commit metadata.

GLib does the serialising and parsing; this module only decides the type of a Python value (every integer gets an
explicit width: rpm-ostree's epochs are ``uint64``, not the ``int32`` an untyped integer would become) and refuses
values GVariant cannot hold before anything is written. ``RawVariant`` carries a value as its type string and
serialised bytes, so metadata copied from one commit into another stays byte-for-byte the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._gi import glib
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


@dataclass(frozen=True)
class RawVariant:
    """A GVariant value as stored: its type string and its serialised bytes (copied through unchanged)."""

    type_string: str
    data: bytes

    def __repr__(self) -> str:
        return f"RawVariant({self.type_string!r}, {len(self.data)} bytes)"

    def value(self) -> object:
        """Return the value as Python (see ``from_variant``)."""
        return from_variant(to_variant(self))

    def text(self) -> str:
        """Return GLib's text form with types annotated (what ``ostree show`` prints)."""
        return str(to_variant(self).print_(True))


_INT_RANGES = {
    "t": (0, 2**64),
    "u": (0, 2**32),
    "i": (-(2**31), 2**31),
    "x": (-(2**63), 2**63),
}


def type_of(value: object) -> str:
    """Return the GVariant type string ``to_variant`` uses for ``value``."""
    if isinstance(value, RawVariant):
        return value.type_string
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
    raise GvariantError(f"cannot write {type(value).__name__} as GVariant")


def _checked_string(value: str) -> str:
    # GLib would silently cut a string at NUL and refuse a lone surrogate only deep inside the C call.
    if "\0" in value:
        raise GvariantError(f"GVariant strings cannot contain NUL: {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise GvariantError(f"GVariant strings must be valid UTF-8; {value!r} has a lone surrogate") from None
    return value


def to_variant(value: object) -> Any:
    """Return a ``GLib.Variant`` for ``value``, every integer with its width (see the module docstring)."""
    GLib = glib()
    if isinstance(value, RawVariant):
        if not GLib.VariantType.string_is_valid(value.type_string):
            raise GvariantError(f"{value.type_string!r} is not a GVariant type string")
        vtype = GLib.VariantType.new(value.type_string)
        variant = GLib.Variant.new_from_bytes(vtype, GLib.Bytes.new(value.data), False)
        if not variant.is_normal_form():
            raise GvariantError(f"the {len(value.data)} bytes are not a {value.type_string!r} value in normal form")
        return variant
    vtype = type_of(value)
    if isinstance(value, Package):
        return to_variant(_package_tuple(value))
    if isinstance(value, bool):
        return GLib.Variant("b", value)
    if isinstance(value, int):
        low, high = _INT_RANGES[vtype]
        if not low <= value < high:
            raise GvariantError(f"{int(value)} does not fit in GVariant type {vtype!r}")
        return GLib.Variant(vtype, int(value))
    if isinstance(value, float):
        return GLib.Variant("d", value)
    if isinstance(value, str):
        return GLib.Variant("s", _checked_string(value))
    if isinstance(value, bytes):
        return GLib.Variant("ay", value)
    if isinstance(value, tuple):
        return GLib.Variant.new_tuple(*[to_variant(v) for v in value])
    if isinstance(value, Mapping):
        entries = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise GvariantError(f"dict keys must be strings for a{{sv}}, got {key!r}")
            entries[_checked_string(key)] = to_variant(item)
        return GLib.Variant("a{sv}", entries)
    assert isinstance(value, list)
    return GLib.Variant.new_array(GLib.VariantType.new(vtype[1:]), [to_variant(v) for v in value])


def from_variant(variant: Any) -> object:
    """Return a ``GLib.Variant`` as Python: ``ay`` as bytes, ``a{..}`` as dicts, variants and maybes unwrapped.

    Integer widths are not kept (every integer is a plain ``int``); use ``RawVariant`` to copy a value exactly.
    """
    vtype = str(variant.get_type_string())
    if "ay" not in vtype and "v" not in vtype:
        # GLib unpacks everything else itself; only byte strings (possibly inside a variant) come back as int lists.
        return variant.unpack()
    if vtype == "ay":
        return bytes(variant.get_data_as_bytes().get_data())
    head = vtype[0]
    if head == "v":
        return from_variant(variant.get_variant())
    if head == "m":
        return from_variant(variant.get_child_value(0)) if variant.n_children() else None
    children = [variant.get_child_value(i) for i in range(variant.n_children())]
    if vtype.startswith("a{"):
        return {_hashable(from_variant(c.get_child_value(0))): from_variant(c.get_child_value(1)) for c in children}
    if head == "a":
        return [from_variant(c) for c in children]
    return tuple(from_variant(c) for c in children)


def _hashable(key: object) -> object:
    return bytes(key) if isinstance(key, bytearray) else key


def raw_variant(variant: Any) -> RawVariant:
    """Return a ``GLib.Variant`` as its type string and serialised bytes."""
    return RawVariant(str(variant.get_type_string()), bytes(variant.get_data_as_bytes().get_data()))


def _package_tuple(pkg: Package | Sequence[object]) -> tuple[str, Uint64, str, str, str]:
    epoch: object
    if isinstance(pkg, Package):
        name, epoch, version, release, arch = pkg.as_tuple()
    else:
        if isinstance(pkg, (str, bytes)) or len(pkg) != 5:
            raise GvariantError(f"a package is (name, epoch, version, release, arch); got {pkg!r}")
        name, epoch, version, release, arch = (str(pkg[0]), pkg[1], str(pkg[2]), str(pkg[3]), str(pkg[4]))
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch < 2**64:
        raise GvariantError(f"package epoch must be an int from 0 to 2**64-1, got {epoch!r}")
    return (name, Uint64(epoch), version, release, arch)


def pkglist_variant(packages: Iterable[Package | Sequence[object]]) -> Any:
    """Return rpm-ostree's ``a(stsss)`` package list as a ``GLib.Variant`` (an empty list keeps its type)."""
    GLib = glib()
    tuples = [_package_tuple(p) for p in packages]
    for name, _epoch, version, release, arch in tuples:
        for text in (name, version, release, arch):
            _checked_string(text)
    return GLib.Variant(PKGLIST_TYPE, [(n, int(e), v, r, a) for n, e, v, r, a in tuples])


def metadata_variant(key: str, value: object) -> Any:
    """Return the ``GLib.Variant`` for metadata ``key``, with rpm-ostree's type for the package list."""
    if key == PKGLIST_KEY and isinstance(value, (list, tuple)):
        return pkglist_variant(value)
    return to_variant(value)


def format_value(value: object) -> str:
    """Return GLib's text form of ``value`` with types annotated (for logs and error messages)."""
    return str(to_variant(value).print_(True))


def packages_from_value(value: object) -> tuple[Package, ...]:
    """Convert an ``a(stsss)`` value (as ``from_variant`` returns it) into Package objects."""
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
