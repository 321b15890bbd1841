"""The shipped nginx configuration (deploy/nginx/) as the tests see it.

The tests run the files docker-compose.yml hands to the official nginx image, so they render
media.conf exactly as the image's envsubst does, and parse the result into directives so the
deployment checks read values rather than search for substrings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from tests.services import ROOT

NGINX_DIR = ROOT / "deploy" / "nginx"
MAIN_CONF = NGINX_DIR / "nginx.conf"
SITE_CONF = NGINX_DIR / "media.conf"
# nginx.conf includes the rendered site from here, relative to its own directory.
SITE_DIR = "media-pipeline"
# NGINX_ENVSUBST_FILTER in docker-compose.yml: the only names envsubst replaces.
PLACEHOLDER_PREFIX = "MEDIA_PIPELINE_"

_NAME = PLACEHOLDER_PREFIX + r"\w+"
_PLACEHOLDER = re.compile(r"\$(?:\{(" + _NAME + r")\}|(" + _NAME + "))")
# Blanks, a comment, a "double" or 'single' quoted word, syntax, or a bare word.
_TOKEN = re.compile(r"""\s+|#[^\n]*|"((?:\\.|[^"\\])*)"|'((?:\\.|[^'\\])*)'"""
                    r"""|([{};])|([^\s{};"']+)""")
_TIME_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "": 1}
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def placeholders(text: str) -> set[str]:
    """The MEDIA_PIPELINE_* names a template uses, in either of envsubst's two spellings."""
    return {braced or bare for braced, bare in _PLACEHOLDER.findall(text)}


def render(text: str, values: Mapping[str, str]) -> str:
    """What the image's envsubst makes of a template: `${NAME}` and `$NAME` replaced for the
    filtered names, every other `$` left to nginx ($http_host stays a variable). A name with
    no value is an error here; envsubst would leave it and nginx would fail at start."""
    missing = placeholders(text) - set(values)
    if missing:
        raise KeyError(f"no value for {sorted(missing)}")
    return _PLACEHOLDER.sub(lambda match: values[match[1] or match[2]], text)


@dataclass(frozen=True)
class Directive:
    name: str
    args: tuple[str, ...]
    block: tuple[Directive, ...] = ()


def parse(text: str) -> tuple[Directive, ...]:
    """nginx's configuration syntax: directives ending in `;` or a `{ }` block, `#` comments,
    quoted arguments. Enough for the shipped files, which use nothing else."""
    return _parse_block(list(_tokens(text)), 0, nested=False)[0]


def _tokens(text: str) -> Iterator[tuple[str, bool]]:
    """(token, is_syntax) pairs; a quoted word is never syntax."""
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"cannot read nginx configuration at {text[position:position + 40]!r}")
        position = match.end()
        double, single, syntax, word = match.groups()
        if syntax is not None:
            yield syntax, True
        elif word is not None:
            yield word, False
        elif double is not None or single is not None:
            yield double if double is not None else single, False


def _parse_block(tokens: list[tuple[str, bool]], index: int,
                 nested: bool) -> tuple[tuple[Directive, ...], int]:
    """The directives from `index` to the block's `}` (or the end, at the top level), and
    the index after it."""
    directives: list[Directive] = []
    words: list[str] = []
    while index < len(tokens):
        token, syntax = tokens[index]
        index += 1
        if not syntax:
            words.append(token)
        elif token == "}":
            if not nested or words:
                raise ValueError("unexpected '}' in nginx configuration")
            return tuple(directives), index
        elif not words:
            raise ValueError(f"{token!r} with no directive in nginx configuration")
        elif token == ";":
            directives.append(Directive(words[0], tuple(words[1:])))
            words = []
        else:  # "{"
            block, index = _parse_block(tokens, index, nested=True)
            directives.append(Directive(words[0], tuple(words[1:]), block))
            words = []
    if nested or words:
        raise ValueError("nginx configuration ends inside a directive or block")
    return tuple(directives), index


def find(directives: tuple[Directive, ...], name: str) -> list[Directive]:
    """Every directive called `name`, at any depth."""
    found = [directive for directive in directives if directive.name == name]
    for directive in directives:
        found += find(directive.block, name)
    return found


def the(directives: tuple[Directive, ...], name: str) -> Directive:
    """The one directive called `name`, wherever it is."""
    matches = find(directives, name)
    assert len(matches) == 1, f"{name}: {len(matches)} directives, expected one"
    return matches[0]


def only(directives: tuple[Directive, ...], name: str) -> tuple[str, ...]:
    """The arguments of the one directive called `name`, wherever it is."""
    return the(directives, name).args


def seconds(value: str) -> float:
    """An nginx time in seconds ("10s", "1m30s", "300"; a bare number is seconds)."""
    if not re.fullmatch(r"(?:\d+(?:ms|[smhd])?)+", value):
        raise ValueError(f"not an nginx time: {value!r}")
    return sum(int(number) * _TIME_UNITS[unit]
               for number, unit in re.findall(r"(\d+)(ms|[smhd]?)", value))


def size(value: str) -> int:
    """An nginx size in bytes ("1k", "20481m"; k, m, g are powers of 1024)."""
    match = re.fullmatch(r"(\d+)([kmg]?)", value.lower())
    if match is None:
        raise ValueError(f"not an nginx size: {value!r}")
    return int(match[1]) * _SIZE_UNITS[match[2]]
