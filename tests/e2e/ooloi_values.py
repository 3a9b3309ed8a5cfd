"""Python values <-> `ooloi.OoloiValue` (proto/ooloi.proto), as an outside client converts them.

| OoloiValue       | Python                                                        |
|------------------|---------------------------------------------------------------|
| nil_val          | None                                                          |
| bool_val         | bool                                                          |
| int_val          | int in [-2**63, 2**63)                                        |
| big_integer_val  | int outside that range (two's-complement big-endian bytes)    |
| double_val       | float                                                         |
| ratio_val        | fractions.Fraction                                            |
| string_val       | str                                                           |
| keyword_val      | Keyword("ns", "name"); kw("name") or kw("ns/name")            |
| symbol_val       | Symbol("ns", "name")                                          |
| vector_val       | list (tuple when frozen: as a map key or a set element)       |
| list_val         | EdnList (a tuple)                                             |
| set_val          | frozenset                                                     |
| map_val          | dict                                                          |
| defrecord_val    | Record("type.Name", {fields})                                 |
| bytes_val        | bytes                                                         |
| uuid_val         | uuid.UUID                                                     |
| instant_val      | Instant(microseconds since the epoch)                         |

The message classes come from the generated `ooloi_pb2` module, passed in (`Codec(ooloi_pb2)`),
so this file does not depend on where the stubs were generated.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from fractions import Fraction

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


@dataclass(frozen=True, order=True)
class Keyword:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f":{self.namespace}/{self.name}" if self.namespace else f":{self.name}"


@dataclass(frozen=True, order=True)
class Symbol:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass(frozen=True)
class Instant:
    micros: int


@dataclass
class Record:
    type_name: str
    fields: dict = field(default_factory=dict)


class EdnList(tuple):
    """A list, distinct from a vector (a Python list)."""

    def __repr__(self) -> str:
        return f"EdnList({tuple.__repr__(self)})"


def kw(text: str) -> Keyword:
    """`kw("title")` is `:title`; `kw("ooloi.pitch/C4")` is `:ooloi.pitch/C4`."""
    ns, sep, name = text.rpartition("/")
    return Keyword(ns if sep else "", name)


def _freeze(value):
    """A hashable form of a decoded value, for map keys and set elements."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, EdnList):
        return EdnList(_freeze(v) for v in value)
    if isinstance(value, dict):
        return frozenset((_freeze(k), _freeze(v)) for k, v in value.items())
    return value


class Codec:
    def __init__(self, pb2):
        self.pb = pb2

    # -- Python -> OoloiValue -----------------------------------------------------------------

    def to_proto(self, value):
        pb = self.pb
        m = pb.OoloiValue()
        if value is None:
            m.nil_val = True
        elif isinstance(value, bool):
            m.bool_val = value
        elif isinstance(value, int):
            if INT64_MIN <= value <= INT64_MAX:
                m.int_val = value
            else:
                m.big_integer_val = value.to_bytes(
                    (value.bit_length() + 8) // 8, "big", signed=True
                )
        elif isinstance(value, float):
            m.double_val = value
        elif isinstance(value, Fraction):
            m.ratio_val.numerator = value.numerator
            m.ratio_val.denominator = value.denominator
        elif isinstance(value, str):
            m.string_val = value
        elif isinstance(value, Keyword):
            m.keyword_val.namespace = value.namespace
            m.keyword_val.name = value.name
        elif isinstance(value, Symbol):
            m.symbol_val.namespace = value.namespace
            m.symbol_val.name = value.name
        elif isinstance(value, EdnList):
            m.list_val.elements.extend(self.to_proto(v) for v in value)
        elif isinstance(value, (list, tuple)):
            m.vector_val.elements.extend(self.to_proto(v) for v in value)
        elif isinstance(value, (set, frozenset)):
            m.set_val.elements.extend(self.to_proto(v) for v in value)
        elif isinstance(value, dict):
            self._fill_map(m.map_val, value)
        elif isinstance(value, Record):
            m.defrecord_val.type_name = value.type_name
            self._fill_map(m.defrecord_val.fields, value.fields)
        elif isinstance(value, (bytes, bytearray)):
            m.bytes_val = bytes(value)
        elif isinstance(value, uuid.UUID):
            m.uuid_val = value.bytes
        elif isinstance(value, Instant):
            m.instant_val = value.micros
        else:
            raise TypeError(f"no OoloiValue for {type(value).__name__}: {value!r}")
        return m

    def _fill_map(self, target, mapping: dict):
        for k, v in mapping.items():
            target.entries.add(key=self.to_proto(k), value=self.to_proto(v))

    # -- OoloiValue -> Python -----------------------------------------------------------------

    def from_proto(self, m):
        kind = m.WhichOneof("value_type")
        if kind is None or kind == "nil_val":
            return None
        if kind in ("bool_val", "int_val", "double_val", "string_val", "bytes_val"):
            return getattr(m, kind)
        if kind == "big_integer_val":
            return int.from_bytes(m.big_integer_val, "big", signed=True)
        if kind == "ratio_val":
            return Fraction(m.ratio_val.numerator, m.ratio_val.denominator)
        if kind == "keyword_val":
            return Keyword(m.keyword_val.namespace, m.keyword_val.name)
        if kind == "symbol_val":
            return Symbol(m.symbol_val.namespace, m.symbol_val.name)
        if kind == "vector_val":
            return [self.from_proto(v) for v in m.vector_val.elements]
        if kind == "list_val":
            return EdnList(self.from_proto(v) for v in m.list_val.elements)
        if kind == "set_val":
            return frozenset(_freeze(self.from_proto(v)) for v in m.set_val.elements)
        if kind == "map_val":
            return self._read_map(m.map_val)
        if kind == "defrecord_val":
            return Record(m.defrecord_val.type_name, self._read_map(m.defrecord_val.fields))
        if kind == "uuid_val":
            return uuid.UUID(bytes=m.uuid_val)
        if kind == "instant_val":
            return Instant(m.instant_val)
        raise ValueError(f"unknown OoloiValue field {kind}")

    def _read_map(self, m) -> dict:
        return {_freeze(self.from_proto(e.key)): self.from_proto(e.value) for e in m.entries}
