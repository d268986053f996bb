"""Response serializers compiled once from the marshmallow schemas that document the routes.

A body is built from its documented schema only, so the OpenAPI document cannot drift from
what is sent: a value the schema does not declare is never read. marshmallow's `Schema.dump`
costs tens of microseconds per user, so each schema is compiled, once, into a small Python
function that builds the body as a dict literal (what a hand-written `to_public` did):
- the wire name is the field's `data_key`; the value is read from its `attribute` (or name),
  by key from a dict and by attribute from anything else (a model dataclass);
- Nested and List recurse; an IsoDateTime becomes the contract's `...T12:00:00.000Z`; strings,
  numbers and booleans go out as they are (the models already hold those types);
- None stays None; an optional field (not `required`) that is absent is left out; a required
  one that is absent raises, since the document promises it (a bug the route tests catch);
- keys go out in the declared order.
A field type without a fast path here is refused when the schema is compiled, at import.
"""

from __future__ import annotations

import functools
import keyword
from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import Schema, fields

from handlers.schemas.fields import IsoDateTime
from server.core.clock import iso

Serializer = Callable[[Any], Any]
_MISSING = object()
# Field classes whose value goes out as it is: the model's str, bool, int or float.
_AS_IS = (fields.String, fields.Boolean, fields.Integer, fields.Float, fields.Raw)
_INDENT = "    "


def _many(item: Serializer | None) -> Serializer:
    if item is None:
        return lambda values: None if values is None else list(values)
    return lambda values: None if values is None else [item(v) for v in values]


def _converter(field: fields.Field) -> Serializer | None:
    """How one field's value is written (None: as it is). Every converter keeps None."""
    kind = type(field)  # exact classes: a subclass may write its values differently
    if kind is fields.Nested and isinstance(field, fields.Nested):
        inner = serializer_for(field.schema)
        return _many(inner) if field.many else inner
    if kind is fields.List and isinstance(field, fields.List):
        return _many(_converter(field.inner))
    if kind is IsoDateTime:
        return iso
    if kind in _AS_IS:
        return None
    raise TypeError(f"no fast serializer for {kind.__name__} fields: add one to "
                    f"handlers/openapi/serializer.py or use a supported field")


def _statements(entries: list[tuple[str, str, str | None, bool]], by_key: bool) -> list[str]:
    """The body of one branch: a dict literal of the leading required fields, then the rest
    in declared order (an optional one only when present)."""
    literal: list[str] = []
    lines: list[str] = []
    for key, attribute, convert, required in entries:
        if required:
            value = f"o[{attribute!r}]" if by_key else f"o.{attribute}"
            expr = f"{convert}({value})" if convert else value
            if lines:
                lines.append(f"out[{key!r}] = {expr}")
            else:
                literal.append(f"{key!r}: {expr}")
        else:
            found = f"o.get({attribute!r}, _M)" if by_key else f"getattr(o, {attribute!r}, _M)"
            lines += [f"v = {found}", "if v is not _M:",
                      f"{_INDENT}out[{key!r}] = {f'{convert}(v)' if convert else 'v'}"]
    return [f"out = {{{', '.join(literal)}}}", *lines, "return out"]


def _source(entries: list[tuple[str, str, str | None, bool]]) -> str:
    by_key = [_INDENT * 2 + line for line in _statements(entries, by_key=True)]
    by_attr = [_INDENT * 2 + line for line in _statements(entries, by_key=False)]
    return "\n".join([
        "def dump(o):",
        f"{_INDENT}if o is None:",  # a nested value may be None: it stays None
        f"{_INDENT * 2}return None",
        f"{_INDENT}if o.__class__ is dict:",
        *by_key,
        f"{_INDENT}try:",
        *by_attr,
        f"{_INDENT}except AttributeError:",  # another kind of mapping, or a real bug
        f"{_INDENT * 2}if isinstance(o, Mapping):",
        f"{_INDENT * 3}return dump(dict(o))",
        f"{_INDENT * 2}raise",
    ])


def compile_schema(schema: Schema) -> Serializer:
    """A function that dumps one object as `schema` declares it (see the module docstring)."""
    name = type(schema).__name__
    names: dict[str, Any] = {"_M": _MISSING, "Mapping": Mapping}
    entries: list[tuple[str, str, str | None, bool]] = []
    for index, (field_name, field) in enumerate(schema.dump_fields.items()):
        attribute = field.attribute or field_name
        if not attribute.isidentifier() or keyword.iskeyword(attribute):
            raise TypeError(f"{name}.{field_name}: attribute {attribute!r} is not a plain name")
        convert = _converter(field)
        if convert is not None:
            names[f"_c{index}"] = convert
        entries.append((field.data_key or field_name, attribute,
                        f"_c{index}" if convert else None, field.required))
    # The source holds only our schemas' names and keys (identifiers and repr'd strings).
    exec(compile(_source(entries), f"<serializer of {name}>", "exec"), names)  # noqa: S102
    dump: Serializer = names["dump"]
    dump.__qualname__ = f"dump_{name}"
    return dump


@functools.cache
def _compiled_class(cls: type[Schema]) -> Serializer:
    return compile_schema(cls())


def serializer_for(schema: type[Schema] | Schema) -> Serializer:
    """The compiled serializer of a schema class or instance (a class is compiled once)."""
    if isinstance(schema, type):
        return _compiled_class(schema)
    plain = schema.only is None and not schema.exclude and not schema.load_only
    compiled = _compiled_class(type(schema)) if plain else compile_schema(schema)
    return _many(compiled) if schema.many else compiled
