"""MLflow's ``search_runs`` filter and order-by grammar, parsed by hand into a small tree.

The grammar below is every search's; the names it lists are the run search's
key set (:data:`lakeml.search.keysets.RUN_KEYS`). Experiments, registered
models and model versions are read by the same :class:`Parser` with key sets
of their own.

The grammar is MLflow's (every filter MLflow accepts parses here with the
same meaning) plus a few extensions:

.. code-block:: text

    filter      := or_expr END
    or_expr     := and_expr ( OR and_expr )*          -- OR: lakeml extension
    and_expr    := primary ( AND primary )*           -- AND binds tighter than OR
    primary     := "(" or_expr ")" | comparison       -- parentheses: lakeml extension
    comparison  := identifier operator [ value ]
    identifier  := entity "." key | attribute         -- no blanks inside
    value       := number | string | "(" string ( "," string )* ")"
    order_by    := identifier [ ASC | DESC ] END

Identifiers:
    * ``metrics.<key>`` (also ``metric.``), ``params.<key>`` (also ``param.``,
      ``parameter.``, ``parameters.``), ``tags.<key>`` (also ``tag.``),
      ``attributes.<name>`` (also ``attribute.``, ``attr.``, ``run.``) and
      ``datasets.name|digest|context`` (also ``dataset.``). Entity prefixes are
      case-insensitive; keys are case-sensitive.
    * A bare name is a run attribute, as in MLflow: ``status = 'FAILED'``.
    * Attributes: ``run_id``, ``run_name``, ``status``, ``user_id``,
      ``artifact_uri`` (strings) and ``start_time``, ``end_time`` (epoch
      milliseconds), with MLflow's aliases ``created``/``Created`` for
      ``start_time`` and ``"run name"``/``"Run name"``/``"Run Name"`` for
      ``run_name``. ``lifecycle_stage`` is not searchable, as in MLflow (it is
      chosen by the run view type).
    * An unquoted key runs from the first ``.`` up to a blank, an operator or
      a quote, and may hold letters, digits and ``_ . - / :``
      (``metrics.val/loss-2``). Any other key is quoted with backticks or
      double quotes: ``metrics.`my metric.v2``` or ``params."model-type"``.

Operators (keywords are case-insensitive):
    * metrics: ``= != < <= > >=`` with a number, and ``IS NULL`` / ``IS NOT NULL``
      (lakeml extension: MLflow has these for params and tags only).
    * params, tags: ``= != LIKE ILIKE IN NOT IN`` with strings, ``IS [NOT] NULL``
      (as in MLflow 3; ``IN`` lists on params and tags are a lakeml extension).
    * string attributes and datasets: ``= != LIKE ILIKE IN NOT IN`` (MLflow allows
      lists for ``run_id`` and datasets only; lakeml for every string attribute).
    * ``start_time``, ``end_time``: ``= != < <= > >=`` with a number.

Literals:
    * Numbers: ``12``, ``-0.5``, ``.5``, ``1e-3``, ``+2E+10``.
    * Strings are single- or double-quoted. The quote character is written
      twice to include it (``'it''s'``, or ``"it's"``); a backslash is an
      ordinary character (``'C:\\tmp'`` is ``C:\\tmp``), as in standard SQL. In
      ``LIKE``/``ILIKE`` patterns ``%`` and ``_`` are always wildcards: there is
      no escape character, as in MLflow.

Example:
    >>> parse_filter("metrics.acc > 0.9 and params.model = 'lr'")
    And(items=(Comparison(entity='metrics', key='acc', op='>', value=0.9), \
Comparison(entity='params', key='model', op='=', value='lr')))
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Iterator

from lakeml.errors import InvalidArgument
from lakeml.search.filter_tree import (
    NULL_OPS,
    NUMERIC_OPS,
    STRING_OPS,
    WORD_PUNCTUATION,
    And,
    Comparison,
    Node,
    Or,
    OrderKey,
    order_key_problem,
)
from lakeml.search.keysets import RUN_KEYS, KeySet

_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "ASC", "DESC"})
_SYMBOL_CHARS = "<>=!~"
_MAX_DEPTH = 64


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class Token:
    """One lexeme of a filter: its kind, source text, decoded value and span.

    Kinds: ``word`` (a name or keyword, may hold dots), ``number``,
    ``string`` (single or double quotes), ``backtick``, ``op`` (a run of
    ``< > = ! ~``), ``(``, ``)``, ``,`` and ``end``.
    """

    kind: str
    text: str
    value: str
    start: int
    end: int

    def describe(self) -> str:
        """The token as an error message names it."""
        return "the end of the input" if self.kind == "end" else repr(self.text)


def tokenize(text: str, what: str = "filter") -> list[Token]:
    """Split ``text`` into tokens; the last one is always of kind ``end``.

    Raises:
        InvalidArgument: on an unterminated quote, a malformed number or a
            character that starts no token, pointing at its position.
    """
    return list(iter_tokens(text, what))


def iter_tokens(text: str, what: str = "filter") -> Iterator[Token]:
    """The tokens of ``text`` one by one, so that the parser reports the first error first."""
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            yield Token("end", "", "", n, n)
            return
        ch = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if ch in "'\"`":
            token = _scan_quoted(text, i, what)
        elif ch.isdigit() or (ch in "+-." and (nxt.isdigit() or (nxt == "." and ch != "."))):
            token = _scan_number(text, i, what)
        elif ch.isalpha() or ch in "_.":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in WORD_PUNCTUATION):
                j += 1
            token = Token("word", text[i:j], text[i:j], i, j)
        elif ch in _SYMBOL_CHARS:
            j = i + 1
            while j < n and text[j] in _SYMBOL_CHARS:
                j += 1
            token = Token("op", text[i:j], text[i:j], i, j)
        elif ch in "(),":
            token = Token(ch, ch, ch, i, i + 1)
        else:
            raise syntax_error(text, i, f"unexpected character {ch!r}", what)
        yield token
        i = token.end


def _scan_quoted(text: str, start: int, what: str) -> Token:
    """A quoted string or name; the quote character is escaped by doubling it."""
    quote = text[start]
    kind = "backtick" if quote == "`" else "string"
    parts: list[str] = []
    i = start + 1
    while True:
        j = text.find(quote, i)
        if j < 0:
            closing = "backtick" if quote == "`" else "quote"
            raise syntax_error(text, start, f"unterminated {kind}: no closing {closing} {quote}"
                               f" for the one opened here", what)
        parts.append(text[i:j])
        if text.startswith(quote, j + 1):
            parts.append(quote)
            i = j + 2
            continue
        return Token(kind, text[start:j + 1], "".join(parts), start, j + 1)


def _scan_number(text: str, start: int, what: str) -> Token:
    n = len(text)
    i = start + 1 if text[start] in "+-" else start
    digits_start = i
    while i < n and text[i].isdigit():
        i += 1
    mantissa_digits = i - digits_start
    if i < n and text[i] == ".":
        i += 1
        fraction_start = i
        while i < n and text[i].isdigit():
            i += 1
        mantissa_digits += i - fraction_start
    if mantissa_digits and i < n and text[i] in "eE":
        j = i + 1
        if j < n and text[j] in "+-":
            j += 1
        if j < n and text[j].isdigit():
            while j < n and text[j].isdigit():
                j += 1
            i = j
    body = text[start:i]
    if not mantissa_digits or (i < n and (text[i].isalnum() or text[i] in "_.")):
        end = i
        while end < n and (text[end].isalnum() or text[end] in "_."):
            end += 1
        raise syntax_error(text, start, f"malformed number {text[start:end]!r}", what)
    if not body.isascii():
        raise syntax_error(text, start, f"malformed number {body!r}: use ASCII digits", what)
    return Token("number", body, body, start, i)


# --------------------------------------------------------------------------- errors


def syntax_error(text: str, position: int, message: str, what: str = "filter"
                 ) -> InvalidArgument:
    """An InvalidArgument quoting ``text`` with a caret under ``position``.

    The text is shown on one line (line breaks and tabs as blanks; windowed
    around the position when very long) and a ``^`` marks the column.
    """
    shown, caret = _one_line(text, position)
    return InvalidArgument(
        f"invalid {what} at column {position + 1}: {message}\n    {shown}\n    {caret}^")


def _one_line(text: str, position: int, width: int = 120) -> tuple[str, str]:
    start, end, prefix, suffix = 0, len(text), "", ""
    if len(text) > width:
        start = max(0, position - width // 2)
        end = min(len(text), start + width)
        start = max(0, end - width)
        prefix = "..." if start > 0 else ""
        suffix = "..." if end < len(text) else ""
    shown = "".join(" " if c.isspace() else c for c in text[start:end])
    pad = len(prefix) + sum(_column_width(c) for c in shown[:max(0, position - start)])
    return prefix + shown + suffix, " " * pad


def _column_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


# --------------------------------------------------------------------------- parser


def parse_filter(text: str | None) -> Node | None:
    """Parse an MLflow run filter into a tree; None for an empty or blank filter.

    Raises:
        InvalidArgument: the filter is not valid; the message quotes it, points
            at the offending position with a caret and says what was expected.

    Example:
        >>> parse_filter("tags.team = 'nlp' OR (status = 'FAILED' and metrics.loss > 1)")
        ... # doctest: +ELLIPSIS
        Or(items=(Comparison(entity='tags', key='team', op='=', value='nlp'), And(...)))
    """
    return parse_with(RUN_KEYS, text)


def parse_with(keys: KeySet, text: str | None) -> Node | None:
    """The tree of filter ``text`` in the vocabulary ``keys`` (None for no filter): the
    one driver of every search's filter (runs, experiments, models, model versions)."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidArgument(f"a filter must be a string, got {text!r}")
    parser = Parser(text, keys)
    if parser.peek().kind == "end":
        return None
    tree = parser.or_expr(0)
    parser.expect_end("AND, OR or the end of the filter")
    return tree


def parse_order_by(clause: str) -> OrderKey:
    """Parse one ``order_by`` entry such as ``"metrics.`val loss` DESC"``.

    Datasets are not sortable; ASC and DESC are case-insensitive.

    Raises:
        InvalidArgument: the clause is not valid (message with a caret).

    Example:
        >>> parse_order_by("metrics.acc DESC")
        OrderKey(entity='metrics', key='acc', ascending=False)
    """
    if not isinstance(clause, str):
        raise InvalidArgument(f"an order_by entry must be a string, got {clause!r}")
    parser = Parser(clause, RUN_KEYS, "order_by clause")
    first = parser.peek()
    entity, key = parser.identifier()
    problem = order_key_problem(entity, key)
    if problem:
        raise syntax_error(clause, first.start, problem, "order_by clause")
    ascending = True
    token = parser.peek()
    if token.kind == "word" and token.text.upper() in ("ASC", "DESC"):
        ascending = token.text.upper() == "ASC"
        parser.advance()
    parser.expect_end("ASC, DESC or the end of the clause")
    return OrderKey(entity, key, ascending)


class Parser:
    """Recursive descent over the tokens of one filter or order-by clause, in the
    vocabulary of a search's key set (``what``: how messages name the text, by
    default as the key set does)."""

    def __init__(self, text: str, keys: KeySet = RUN_KEYS, what: str | None = None) -> None:
        self.text = text
        self.keys = keys
        self.what = what or keys.what
        self.tokens: list[Token] = []
        self._pending = iter_tokens(text, self.what)
        self.index = 0

    def peek(self) -> Token:
        while len(self.tokens) <= self.index and (
                not self.tokens or self.tokens[-1].kind != "end"):
            self.tokens.append(next(self._pending))
        return self.tokens[min(self.index, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.peek()
        if token.kind != "end":
            self.index += 1
        return token

    def error(self, token: Token, message: str) -> InvalidArgument:
        return syntax_error(self.text, token.start, message, self.what)

    def expect_end(self, expected: str) -> None:
        token = self.peek()
        if token.kind != "end":
            raise self.error(token, f"expected {expected}, found {token.describe()}")

    def is_keyword(self, token: Token, *words: str) -> bool:
        return token.kind == "word" and token.text.upper() in words

    # filter := or_expr; or_expr := and_expr (OR and_expr)*
    def or_expr(self, depth: int) -> Node:
        items = [self.and_expr(depth)]
        while self.is_keyword(self.peek(), "OR"):
            self.advance()
            items.append(self.and_expr(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self, depth: int) -> Node:
        items = [self.primary(depth)]
        while self.is_keyword(self.peek(), "AND"):
            self.advance()
            items.append(self.primary(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def primary(self, depth: int) -> Node:
        token = self.peek()
        if token.kind != "(":
            return self.comparison()
        if depth >= _MAX_DEPTH:
            raise self.error(token, f"parentheses nest deeper than {_MAX_DEPTH} levels")
        self.advance()
        node = self.or_expr(depth + 1)
        closing = self.peek()
        if closing.kind != ")":
            raise self.error(closing, f"expected AND, OR or ')' to close the '(' at column "
                                      f"{token.start + 1}, found {closing.describe()}")
        self.advance()
        return node

    def comparison(self) -> Comparison:
        first = self.peek()
        entity, key = self.identifier()
        keys = self.keys
        problem = keys.key_problem(entity, key)
        if problem:
            raise self.error(first, problem)
        name = self.text[first.start:self.tokens[self.index - 1].end]
        op_token = self.peek()
        ops = keys.allowed_ops(entity, key)
        op = self.operator(name, ops)
        subject = keys.subject(entity, key)
        if op not in ops:
            raise self.error(op_token, self._operators_expected(ops, op_token) if
                             keys.terse_operator_errors else
                             f"operator {op!r} is not allowed for {subject}; expected one "
                             f"of {', '.join(ops)}")
        kind = keys.value_kind(entity, key, op)
        value = self.value(kind, f"{name} {op}", subject)
        return keys.node(entity, key, op, value)

    def identifier(self) -> tuple[str, str]:
        """``(entity, key)`` from ``entity.key``, ``entity.`key```, ```entity`.key`` or a name."""
        first = self.peek()
        parts = [self.advance()] if first.kind in ("word", "backtick", "string") else []
        while parts and self.peek().start == parts[-1].end and self.peek().kind in (
                "word", "backtick", "string"):
            parts.append(self.advance())
        if not parts or self.is_keyword(first, *_KEYWORDS):
            raise self.error(first, f"expected {self.keys.identifier_expected}, found "
                                    f"{first.describe()}")
        if first.kind == "string" and first.text.startswith("'"):
            raise self.error(first, "expected an identifier, found a string; quote names "
                                    "with backticks or double quotes")
        entity, key = self._split_identifier(parts)
        return self.resolve(first, entity, key)

    def resolve(self, first: Token, entity: str | None, key: str) -> tuple[str, str]:
        """The canonical ``(entity, key)`` of a split identifier (None: a bare name), as
        the key set reads it; an error at ``first`` if it names nothing."""
        resolved = self.keys.resolve(entity, key)
        if isinstance(resolved, str):
            raise self.error(first, resolved)
        return resolved

    def _split_identifier(self, parts: list[Token]) -> tuple[str | None, str]:
        """Interpret adjacent name tokens: MLflow splits them at the first dot."""
        first = parts[0]
        if first.kind == "word":
            entity, dot, key = first.text.partition(".")
            if not dot:
                if len(parts) > 1:
                    raise self.error(parts[1], f"expected a '.' between {first.text!r} "
                                               f"and the quoted key")
                return None, entity
            if not entity:
                raise self.error(first, f"expected an entity such as metrics before "
                                        f"{first.text!r}")
        else:
            if len(parts) == 1:
                return None, first.value
            entity, key = first.value, ""
            second = parts[1]
            if second.kind != "word" or not second.text.startswith("."):
                raise self.error(second, "expected '.' after the quoted entity name")
            key = second.text[1:]
            parts = parts[1:]
        if len(parts) == 2 and key:
            raise self.error(parts[1], f"unexpected {parts[1].describe()} right after the key "
                                       f"{key!r}; quote the whole key instead")
        if len(parts) == 2:
            key = parts[1].value
        if len(parts) > 2:
            raise self.error(parts[2], f"unexpected {parts[2].describe()} right after the key "
                                       f"{parts[1].value!r}; quote the whole key instead")
        if not key:
            at = parts[1] if len(parts) == 2 else self.peek()
            raise self.error(at, f"expected a key after '{entity}.' (quote keys that hold "
                                 f"blanks or other characters: {entity}.`my key`)")
        return entity, key

    def operator(self, name: str, ops: tuple[str, ...]) -> str:
        """The operator after identifier ``name`` (of those ``ops`` allow, unless the key
        set words that error itself: see :meth:`comparison`)."""
        token = self.peek()
        try:
            return self._operator(name)
        except InvalidArgument:
            if not self.keys.terse_operator_errors:
                raise
            raise self.error(token, self._operators_expected(ops, token)) from None

    def _operators_expected(self, ops: tuple[str, ...], token: Token) -> str:
        return f"expected one of {', '.join(ops)}, found {token.describe()}"

    def _operator(self, name: str) -> str:
        token = self.advance()
        if token.kind == "op":
            text = self.keys.op_aliases.get(token.text, token.text)
            if text in NUMERIC_OPS:
                return text
            hint = {"==": " (use =)", "<>": " (use !=)", "=<": " (use <=)", "=>": " (use >=)"}
            raise self.error(token, f"unknown operator {token.text!r}"
                                    f"{hint.get(token.text, '')}; expected one of "
                                    f"{', '.join(NUMERIC_OPS + STRING_OPS[2:] + NULL_OPS)}")
        word = token.text.upper() if token.kind == "word" else ""
        if word in ("LIKE", "ILIKE", "IN"):
            return word
        if word == "NOT":
            following = self.advance()
            if not self.is_keyword(following, "IN"):
                raise self.error(following, f"expected IN after NOT, found "
                                            f"{following.describe()} (NOT is only allowed in "
                                            f"NOT IN and IS NOT NULL)")
            return "NOT IN"
        if word == "IS":
            following = self.advance()
            negated = self.is_keyword(following, "NOT")
            if negated:
                following = self.advance()
            if not self.is_keyword(following, "NULL"):
                expected = "NULL" if negated else "NULL or NOT NULL"
                raise self.error(following, f"expected {expected} after IS"
                                            f"{' NOT' if negated else ''}, found "
                                            f"{following.describe()}")
            return "IS NOT NULL" if negated else "IS NULL"
        raise self.error(token, f"expected a comparison operator (=, !=, <, <=, >, >=, LIKE, "
                                f"ILIKE, IN, NOT IN, IS NULL) after {name!r}, found "
                                f"{token.describe()}")

    def value(self, kind: str, after: str, subject: str
              ) -> float | int | str | tuple[str | int, ...] | None:
        if kind == "none":
            return None
        if kind in ("list", "integer list"):
            return self.value_list(after, kind)
        token = self.advance()
        if kind == "integer":
            return self.integer(token)
        if kind == "number":
            if token.kind == "number":
                return float(token.text)
            raise self.error(token, f"{subject} compares with numbers; expected a number "
                                    f"after {after!r}, found {_describe_value(token)}")
        if token.kind == "string":
            return token.value
        advice = {"backtick": " (backticks quote names, not values)",
                  "number": f" (quote it: '{token.text}')", "word": " (quote string values)",
                  "(": " (lists need IN or NOT IN)"}.get(token.kind, "")
        raise self.error(token, f"{subject} compares with strings; expected a quoted string "
                                f"after {after!r}, found {_describe_value(token)}{advice}")

    def integer(self, token: Token) -> int:
        """A whole number: a number or a quoted one (``3``, ``'3'``), as the registry's
        version numbers have always been read."""
        try:
            return int(token.value)
        except ValueError:
            raise self.error(token, f"expected a whole number, found {token.describe()}"
                             ) from None

    def value_list(self, after: str, kind: str) -> tuple[str | int, ...]:
        """A parenthesised list of quoted strings (``kind`` list) or of whole numbers."""
        opening = self.advance()
        if opening.kind != "(":
            raise self.error(opening, f"expected a parenthesised list of quoted strings after "
                                      f"{after!r}, such as ('a', 'b'), found "
                                      f"{opening.describe()}")
        values: list[str | int] = []
        while True:
            token = self.advance()
            if token.kind == ")" and not values:
                one = "whole number" if kind == "integer list" else "quoted string"
                raise self.error(token, f"the list after {after!r} is empty; give at least "
                                        f"one {one}")
            if kind == "integer list":
                values.append(self.integer(token))
            elif token.kind != "string":
                raise self.error(token, f"expected a quoted string in the list after "
                                        f"{after!r}, found {_describe_value(token)}")
            else:
                values.append(token.value)
            separator = self.advance()
            if separator.kind == ")":
                return tuple(values)
            if separator.kind != ",":
                raise self.error(separator, f"expected ',' or ')' in the list after {after!r},"
                                            f" found {separator.describe()}")


def _describe_value(token: Token) -> str:
    if token.kind == "string":
        return f"the string {token.text}"
    if token.kind == "number":
        return f"the number {token.text}"
    return token.describe()

