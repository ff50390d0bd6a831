"""The registry's search filters and order_by keys, compiled to SQL.

Grammar (MLflow's, plus OR and parentheses as in run search)::

    filter     := and (OR and)*
    and        := primary (AND primary)*
    primary    := '(' filter ')' | key op value
    key        := name | version_number | run_id | source_path | current_stage
                  | user_id | status | tags.<key> | tags.`key with spaces`
                  (tag.<key> works as tags.<key>, as in MLflow)
    op         := = | != | LIKE | ILIKE | IN | NOT IN   (and < <= > >= on version_number)

Keys map to fixed SQL columns and every value is a ``?`` parameter: filter
text never becomes SQL text. Registered-model search knows ``name`` and
``tags.<key>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lakeml.errors import InvalidArgument
from lakeml.search.filter_parser import Token, iter_tokens, syntax_error

_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN")
_SQL_OPS = {"!=": "<>", "<>": "<>"}
_VERSION_KEYS = {"name": "name", "version_number": "version", "version": "version",
                 "run_id": "run_id", "source_path": "source", "source": "source",
                 "current_stage": "current_stage", "user_id": "user_id", "status": "status"}
_MODEL_KEYS = {"name": "name"}
VERSION_ORDER = {"name": "name", "version_number": "version", "version": "version",
                  "creation_timestamp": "creation_timestamp",
                  "last_updated_timestamp": "last_updated_timestamp",
                  "current_stage": "current_stage", "run_id": "run_id"}
MODEL_ORDER = {"name": "name", "creation_timestamp": "creation_timestamp",
                "last_updated_timestamp": "last_updated_timestamp",
                "timestamp": "last_updated_timestamp"}  # MLflow's alias


@dataclass
class Compiled:
    """A WHERE clause, its parameters, and the model name it pins (if any)."""

    sql: str
    params: list[Any]
    pinned_name: str | None = None


class _FilterParser:
    def __init__(self, text: str, keys: dict[str, str], tag_table: str, tag_join: str,
                 what: str) -> None:
        self.text, self.keys, self.what = text, keys, what
        self.tag_table, self.tag_join = tag_table, tag_join
        self.tokens = list(iter_tokens(text, what))
        self.i = 0
        self.params: list[Any] = []
        self.names: list[str] = []

    def peek(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def error(self, token: Token, message: str) -> InvalidArgument:
        return syntax_error(self.text, token.start, message, self.what)

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text.upper() in words

    def parse(self) -> str:
        sql = self.or_expr(0)
        if self.peek().kind != "end":
            raise self.error(self.peek(), f"expected AND, OR or the end, found "
                                          f"{self.peek().describe()}")
        return sql

    def or_expr(self, depth: int) -> str:
        parts = [self.and_expr(depth)]
        while self.keyword("OR"):
            self.advance()
            parts.append(self.and_expr(depth))
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def and_expr(self, depth: int) -> str:
        parts = [self.primary(depth)]
        while self.keyword("AND"):
            self.advance()
            parts.append(self.primary(depth))
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def primary(self, depth: int) -> str:
        if self.peek().kind == "(":
            if depth > 32:
                raise self.error(self.peek(), "parentheses nest too deep")
            opening = self.advance()
            sql = self.or_expr(depth + 1)
            if self.peek().kind != ")":
                raise self.error(self.peek(), f"expected ')' to close the '(' at column "
                                              f"{opening.start + 1}, found "
                                              f"{self.peek().describe()}")
            self.advance()
            return sql
        return self.comparison(depth)

    def comparison(self, depth: int) -> str:
        token = self.advance()
        if token.kind not in ("word", "backtick"):
            raise self.error(token, f"expected a key such as name or tags.<key>, found "
                                    f"{token.describe()}")
        key, tag = token.value, None
        entity, dot, rest = key.partition(".")
        if token.kind == "word" and dot and entity.lower() in ("tags", "tag"):
            tag = rest
            if not tag and self.peek().kind == "backtick":
                tag = self.advance().value
            if not tag:
                raise self.error(token, f"expected a tag key after '{entity}.'")
        elif key not in self.keys:
            raise self.error(token, f"unknown key {key!r}; valid: {', '.join(self.keys)}, "
                                    "tags.<key>")
        numeric = tag is None and self.keys[key] == "version"
        op_token = self.peek()
        op = self.operator(numeric)
        value = self.value(op, numeric, op_token)
        sql_op = _SQL_OPS.get(op, op)
        if tag is not None:
            self.params.append(tag)
            test = self.test("t.value", sql_op, value)
            return (f"EXISTS (SELECT 1 FROM {self.tag_table} AS t WHERE {self.tag_join} "
                    f"AND t.key = ? AND {test})")
        if key == "name" and op == "=" and depth == 0:
            self.names.append(value)
        return self.test(f"x.{self.keys[key]}", sql_op, value)

    def test(self, column: str, op: str, value: Any) -> str:
        if isinstance(value, tuple):
            self.params.extend(value)
            return f"{column} {op} ({', '.join('?' * len(value))})"
        self.params.append(value)
        return f"{column} {op} ?"

    def operator(self, numeric: bool) -> str:
        token = self.advance()
        allowed = _NUMBER_OPS if numeric else _STRING_OPS
        op = token.text.upper() if token.kind in ("word", "op") else ""
        if op == "NOT" and self.keyword("IN"):
            self.advance()
            op = "NOT IN"
        if op == "<>":
            op = "!="
        if op not in allowed:
            raise self.error(token, f"expected one of {', '.join(allowed)}, found "
                                    f"{token.describe()}")
        return op

    def value(self, op: str, numeric: bool, op_token: Token) -> Any:
        if op in ("IN", "NOT IN"):
            opening = self.advance()
            if opening.kind != "(":
                raise self.error(opening, f"expected '(' after {op}")
            items = [self.scalar(numeric)]
            while self.peek().kind == ",":
                self.advance()
                items.append(self.scalar(numeric))
            if self.peek().kind != ")":
                raise self.error(self.peek(), f"expected ',' or ')' in the {op} list")
            self.advance()
            return tuple(items)
        return self.scalar(numeric)

    def scalar(self, numeric: bool) -> Any:
        token = self.advance()
        if numeric:
            try:
                return int(token.value)
            except ValueError:
                raise self.error(token, f"expected a whole number, found {token.describe()}"
                                 ) from None
        if token.kind != "string":
            raise self.error(token, f"expected a quoted string, found {token.describe()}")
        return token.value


def compile_filter(text: str | None, *, versions: bool) -> Compiled:
    """The WHERE clause of a registry search (``x`` is the searched relation)."""
    if text is None or not str(text).strip():
        return Compiled("TRUE", [])
    if versions:
        parser = _FilterParser(text, _VERSION_KEYS, "model_version_tags",
                               "t.model_id = x.model_id AND t.version = x.version",
                               "model version filter")
    else:
        parser = _FilterParser(text, _MODEL_KEYS, "registered_model_tags",
                               "t.model_id = x.model_id", "registered model filter")
    sql = parser.parse()
    pinned = parser.names[0] if len(set(parser.names)) == 1 and " OR " not in sql else None
    return Compiled(sql, parser.params, pinned)


def compile_order(order_by: list[str] | None, columns: dict[str, str], tie: list[str]) -> str:
    """ORDER BY clause from ``["name ASC", "version_number DESC"]``-style keys."""
    parts = []
    for item in order_by or []:
        words = str(item).split()
        if not words or len(words) > 2 or words[0] not in columns or (
                len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            raise InvalidArgument(f"invalid order_by {item!r}: use '<key> [ASC|DESC]' with "
                                  f"key one of {', '.join(columns)}")
        direction = words[1].upper() if len(words) == 2 else "ASC"
        parts.append(f"x.{columns[words[0]]} {direction} NULLS LAST")
    used = {p.split()[0] for p in parts}
    parts += [t for t in tie if t.split()[0] not in used]
    return ", ".join(parts)
