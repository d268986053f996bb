"""Reading config values: the YAML file, APP__SECTION__KEY overrides, and conversion of raw values
(durations like `15m`, sizes like `10mb`, bounds, choices) into the dataclasses' fields."""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

ENV_PREFIX = "APP__"
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZE = re.compile(r"^(\d+)\s*(b|kb|mb|gb)?$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


class ConfigError(Exception):
    """A config file or value is unusable; the message names the key."""


class ByteSize(int):
    """An int of bytes, written in config as `100kb`, `10mb` or a plain number."""


_ALIASES = {"from": "sender"}


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The file's top-level mapping. Raises ConfigError when unreadable or not a mapping."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: invalid YAML{where}") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return loaded or {}


def apply_env(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Apply APP__SECTION__KEY variables to the raw mapping (values parsed as YAML scalars)."""
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX):].split("__")]
        if not all(keys):
            raise ConfigError(f"{name}: malformed override name")
        node = raw
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{'.'.join(keys)}: {key} is not a section")
            node = child
        try:
            node[keys[-1]] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            node[keys[-1]] = value


def build(cls: type[Any], data: Any, prefix: str) -> Any:
    """The dataclass `cls` from a raw mapping: unknown keys, wrong types and out-of-range
    values raise ConfigError naming the key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a section (mapping)")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = _ALIASES.get(str(key), str(key))
        if name not in fields:
            raise ConfigError(f"{prefix}{key}: unknown key")
        values[name] = _convert(hints[name], value, f"{prefix}{key}", fields[name].metadata)
    return cls(**values)


def _convert(kind: Any, value: Any, key: str, meta: Mapping[str, Any]) -> Any:
    if dataclasses.is_dataclass(kind):
        return build(typing.cast(type[Any], kind), {} if value is None else value, key + ".")
    converted = _scalar(kind, value, key)
    choices = meta.get("choices")
    if choices and converted not in choices:
        raise ConfigError(f"{key}: expected one of {', '.join(choices)}, got {value!r}")
    low, high = meta.get("min"), meta.get("max")
    if low is not None and converted < low:
        raise ConfigError(f"{key}: must be at least {_shown(low)}, got {value!r}")
    if high is not None and converted > high:
        raise ConfigError(f"{key}: must be at most {_shown(high)}, got {value!r}")
    return converted


def _shown(bound: Any) -> str:
    # A duration bound reads as config spells it (100ms), not as timedelta's 0:00:00.100000.
    if isinstance(bound, timedelta):
        ms = round(bound.total_seconds() * 1000)
        return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"
    return str(bound)


def _scalar(kind: Any, value: Any, key: str) -> Any:
    if kind is timedelta:
        match = _DURATION.match(str(value).strip())
        if not match:
            raise ConfigError(f"{key}: expected a duration like 30s, 15m, 2h or 7d, got {value!r}")
        return timedelta(seconds=int(match[1]) * _DURATION_UNITS[match[2]])
    if kind is ByteSize:
        match = _SIZE.match(str(value).strip())
        if not match or isinstance(value, bool):
            raise ConfigError(f"{key}: expected a size like 100kb or 10mb, got {value!r}")
        return ByteSize(int(match[1]) * _SIZE_UNITS[(match[2] or "b").lower()])
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) and key.endswith("trust_proxy"):
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
        return value
    if kind is str:
        if value is None:
            return ""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected text, got {value!r}")
        return str(value)
    if typing.get_origin(kind) is tuple:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected a list of text, got {value!r}")
        return tuple(value)
    raise ConfigError(f"{key}: unsupported type")  # pragma: no cover - every field type is above
