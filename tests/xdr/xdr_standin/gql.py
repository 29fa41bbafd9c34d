"""Just enough GraphQL for the stand-in: parse the document a client starts, check it against the
eventQuery / eventPage part of the schema (schema.py), resolve its arguments, and cut an answer
down to the fields the document selected, as a GraphQL server does.

Not supported (answered with an error, see README): fragments, more than one operation without an
operationName, directives other than being skipped over.  The error wordings follow graphql-js
(the reference implementation most GraphQL gateways run), so a client sees the same kind of text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .schema import ARGUMENTS, EVENT_QUERY_OPTIONS_FIELDS, TYPES, is_object, named_type


class SyntaxErr(Exception):
    """The document does not parse (graphql-ws servers answer these with an `error` message)."""


class GraphQLErrors(Exception):
    """Validation or variable errors: a GraphQL result `{"errors": [...]}`."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__("; ".join(e["message"] for e in errors))
        self.errors = errors


def error(message: str, loc: tuple[int, int] | None = None, path: list[str] | None = None) -> dict[str, Any]:
    e: dict[str, Any] = {"message": message}
    if loc is not None:
        e["locations"] = [{"line": loc[0], "column": loc[1]}]
    if path is not None:
        e["path"] = path
    return e


# ------------------------------------------------------------------------------------------------
# Lexer
# ------------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r'(?P<skip>[\s,\ufeff]+|#[^\n\r]*)'
    r'|(?P<block>"""(?:\\"""|[^"]|"(?!""))*""")'
    r'|(?P<string>"(?:\\.|[^"\\\n\r])*")'
    r'|(?P<spread>\.\.\.)'
    r'|(?P<punct>[!$&()\:=@\[\]{|}])'
    r'|(?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)'
    r'|(?P<name>[_A-Za-z][_0-9A-Za-z]*)'
)


@dataclass
class Tok:
    kind: str  # punct, name, string, number, spread, eof
    value: Any
    line: int
    col: int


def _lex(source: str) -> list[Tok]:
    toks: list[Tok] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:
            raise SyntaxErr(f"Syntax Error: Unexpected character: {source[pos]!r}. ({line}:{pos - line_start + 1})")
        kind = m.lastgroup or ""
        text = m.group()
        col = pos - line_start + 1
        if kind == "block":
            toks.append(Tok("string", _block_string(text[3:-3]), line, col))
        elif kind == "string":
            toks.append(Tok("string", json.loads(text), line, col))
        elif kind == "number":
            toks.append(Tok("number", float(text) if any(c in text for c in ".eE") else int(text), line, col))
        elif kind != "skip":
            toks.append(Tok(kind, text, line, col))
        for i, ch in enumerate(text):
            if ch == "\n":
                line, line_start = line + 1, pos + i + 1
        pos = m.end()
    toks.append(Tok("eof", None, line, pos - line_start + 1))
    return toks


def _block_string(raw: str) -> str:
    lines = raw.replace('\\"""', '"""').splitlines()
    indents = [len(l) - len(l.lstrip()) for l in lines[1:] if l.strip()]
    cut = min(indents) if indents else 0
    lines = lines[:1] + [l[cut:] for l in lines[1:]]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# Parser
# ------------------------------------------------------------------------------------------------


@dataclass
class Field:
    name: str
    alias: str | None
    args: dict[str, Any]  # name -> value node
    selections: list["Field"] | None
    loc: tuple[int, int]
    arg_locs: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass
class Operation:
    kind: str  # query, mutation, subscription
    name: str | None
    variables: dict[str, tuple[str, Any, tuple[int, int]]]  # name -> (type, default node or _NONE, loc)
    selections: list[Field]
    loc: tuple[int, int]


_NONE = object()


class _Parser:
    def __init__(self, source: str):
        self.toks = _lex(source)
        self.i = 0

    def peek(self, kind: str, value: Any = None) -> bool:
        t = self.toks[self.i]
        return t.kind == kind and (value is None or t.value == value)

    def take(self, kind: str, value: Any = None) -> Tok:
        t = self.toks[self.i]
        if t.kind != kind or (value is not None and t.value != value):
            want = f'"{value}"' if value is not None else kind.capitalize()
            found = "<EOF>" if t.kind == "eof" else f'"{t.value}"' if t.kind == "punct" else f'{t.kind.capitalize()} "{t.value}"'
            raise SyntaxErr(f"Syntax Error: Expected {want}, found {found}.")
        self.i += 1
        return t

    def document(self) -> list[Operation]:
        ops: list[Operation] = []
        while not self.peek("eof"):
            if self.peek("name", "fragment"):
                raise SyntaxErr("stand-in: fragments are not supported")
            ops.append(self.operation())
        if not ops:
            raise SyntaxErr("Syntax Error: Unexpected <EOF>.")
        return ops

    def operation(self) -> Operation:
        t = self.toks[self.i]
        if self.peek("punct", "{"):
            return Operation("query", None, {}, self.selection_set(), (t.line, t.col))
        kind = self.take("name").value
        if kind not in ("query", "mutation", "subscription"):
            raise SyntaxErr(f'Syntax Error: Unexpected Name "{kind}".')
        name = self.take("name").value if self.peek("name") else None
        variables: dict[str, tuple[str, Any, tuple[int, int]]] = {}
        if self.peek("punct", "("):
            self.take("punct", "(")
            while not self.peek("punct", ")"):
                vt = self.take("punct", "$")
                vname = self.take("name").value
                self.take("punct", ":")
                vtype = self.type_ref()
                default = _NONE
                if self.peek("punct", "="):
                    self.take("punct", "=")
                    default = self.value()
                self.directives()
                variables[vname] = (vtype, default, (vt.line, vt.col))
            self.take("punct", ")")
        self.directives()
        return Operation(kind, name, variables, self.selection_set(), (t.line, t.col))

    def type_ref(self) -> str:
        if self.peek("punct", "["):
            self.take("punct", "[")
            inner = self.type_ref()
            self.take("punct", "]")
            t = f"[{inner}]"
        else:
            t = self.take("name").value
        if self.peek("punct", "!"):
            self.take("punct", "!")
            t += "!"
        return t

    def directives(self) -> None:
        while self.peek("punct", "@"):
            self.take("punct", "@")
            self.take("name")
            if self.peek("punct", "("):
                self.arguments()

    def selection_set(self) -> list[Field]:
        self.take("punct", "{")
        fields: list[Field] = []
        while not self.peek("punct", "}"):
            if self.peek("spread"):
                raise SyntaxErr("stand-in: fragments are not supported")
            t = self.take("name")
            name, alias = t.value, None
            if self.peek("punct", ":"):
                self.take("punct", ":")
                alias, name = name, self.take("name").value
            args, arg_locs = self.arguments() if self.peek("punct", "(") else ({}, {})
            self.directives()
            subs = self.selection_set() if self.peek("punct", "{") else None
            fields.append(Field(name, alias, args, subs, (t.line, t.col), arg_locs))
        self.take("punct", "}")
        if not fields:
            raise SyntaxErr('Syntax Error: Expected Name, found "}".')
        return fields

    def arguments(self) -> tuple[dict[str, Any], dict[str, tuple[int, int]]]:
        self.take("punct", "(")
        args: dict[str, Any] = {}
        locs: dict[str, tuple[int, int]] = {}
        while not self.peek("punct", ")"):
            t = self.take("name")
            self.take("punct", ":")
            args[t.value] = self.value()
            locs[t.value] = (t.line, t.col)
        self.take("punct", ")")
        return args, locs

    def value(self) -> Any:
        t = self.toks[self.i]
        if t.kind == "punct" and t.value == "$":
            self.i += 1
            return ("var", self.take("name").value)
        if t.kind in ("string", "number"):
            self.i += 1
            return ("const", t.value)
        if t.kind == "name":
            self.i += 1
            return ("const", {"true": True, "false": False, "null": None}.get(t.value, t.value))
        if t.kind == "punct" and t.value == "[":
            self.i += 1
            items = []
            while not self.peek("punct", "]"):
                items.append(self.value())
            self.take("punct", "]")
            return ("list", items)
        if t.kind == "punct" and t.value == "{":
            self.i += 1
            obj = {}
            while not self.peek("punct", "}"):
                k = self.take("name").value
                self.take("punct", ":")
                obj[k] = self.value()
            self.take("punct", "}")
            return ("obj", obj)
        found = "<EOF>" if t.kind == "eof" else f'"{t.value}"'
        raise SyntaxErr(f"Syntax Error: Unexpected {found}.")


# ------------------------------------------------------------------------------------------------
# The request: parse, validate, resolve
# ------------------------------------------------------------------------------------------------


@dataclass
class Request:
    field: str  # eventQuery or eventPage
    key: str  # the response key (alias or field name)
    args: dict[str, Any]  # resolved argument values
    selections: list[Field]
    loc: tuple[int, int]


def parse_request(document: Any, variables: Any, operation_name: Any) -> Request:
    """The one root field a subscription document asks for, its arguments resolved.  Raises
    SyntaxErr or GraphQLErrors."""
    if not isinstance(document, str):
        raise GraphQLErrors([error("Must provide query string.")])
    if variables is None:
        variables = {}
    if not isinstance(variables, dict):
        raise GraphQLErrors([error("Variables must be provided as an Object where each property is a variable value.")])
    ops = _Parser(document).document()
    if operation_name:
        ops = [o for o in ops if o.name == operation_name]
        if not ops:
            raise GraphQLErrors([error(f'Unknown operation named "{operation_name}".')])
    elif len(ops) > 1:
        raise GraphQLErrors([error("Must provide operation name if query contains multiple operations.")])
    op = ops[0]
    if op.kind != "subscription":
        raise GraphQLErrors([error(f"stand-in: only subscriptions are served over the WebSocket (got a {op.kind})", op.loc)])
    if len(op.selections) != 1:
        who = f'Subscription "{op.name}"' if op.name else "Anonymous Subscription"
        raise GraphQLErrors([error(f"{who} must select only one top level field.", op.selections[1].loc)])
    root = op.selections[0]
    errors: list[dict[str, Any]] = []
    if root.name not in TYPES["Subscription"]:
        errors.append(error(f'Cannot query field "{root.name}" on type "Subscription".', root.loc))
        raise GraphQLErrors(errors)
    errors += _check_selection(root, TYPES["Subscription"][root.name])
    used: set[str] = set()
    spec = ARGUMENTS[root.name]
    for name, node in root.args.items():
        if name not in spec:
            errors.append(error(f'Unknown argument "{name}" on field "Subscription.{root.name}".', root.arg_locs.get(name)))
        else:
            errors += _check_var_use(node, spec[name], op, used, root.arg_locs.get(name))
    for name, type_ in spec.items():
        if type_.endswith("!") and name not in root.args:
            errors.append(error(
                f'Field "{root.name}" argument "{name}" of type "{type_}" is required, but it was not provided.', root.loc))
    for vname, (_, _, vloc) in op.variables.items():
        if vname not in used:
            who = f' in operation "{op.name}"' if op.name else ""
            errors.append(error(f'Variable "${vname}" is never used{who}.', vloc))
    if errors:
        raise GraphQLErrors(errors)
    # Variable values (graphql-js reports these once the document is valid).
    values: dict[str, Any] = {}
    for vname, (vtype, default, vloc) in op.variables.items():
        if vname in variables:
            v = variables[vname]
            if v is None and vtype.endswith("!"):
                errors.append(error(f'Variable "${vname}" of non-null type "{vtype}" must not be null.', vloc))
            else:
                errors += _check_var_value(vname, vtype, v, vloc)
                values[vname] = v
        elif default is not _NONE:
            values[vname] = _resolve(default, {})
        elif vtype.endswith("!"):
            errors.append(error(f'Variable "${vname}" of required type "{vtype}" was not provided.', vloc))
    if errors:
        raise GraphQLErrors(errors)
    args = {name: _resolve(node, values) for name, node in root.args.items()}
    return Request(root.name, root.key, args, root.selections or [], root.loc)


def _check_selection(f: Field, type_: str) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    if is_object(type_):
        if not f.selections:
            return [error(f'Field "{f.name}" of type "{type_}" must have a selection of subfields. '
                          f'Did you mean "{f.name} {{ ... }}"?', f.loc)]
        fields = TYPES[named_type(type_)]
        for sub in f.selections:
            if sub.name == "__typename":
                continue
            if sub.name not in fields:
                errors.append(error(f'Cannot query field "{sub.name}" on type "{named_type(type_)}".', sub.loc))
            else:
                if sub.args:
                    arg = next(iter(sub.args))
                    errors.append(error(f'Unknown argument "{arg}" on field "{named_type(type_)}.{sub.name}".', sub.loc))
                errors += _check_selection(sub, fields[sub.name])
    elif f.selections:
        errors.append(error(f'Field "{f.name}" must not have a selection since type "{type_}" has no subfields.', f.loc))
    return errors


def _check_var_use(node: Any, expected: str | None, op: Operation, used: set[str], loc: Any) -> list[dict[str, Any]]:
    """Variables used in an argument value: defined, and of a type allowed there (`expected`; None
    inside list and object literals, where only definedness is checked)."""
    if node[0] == "var":
        vname = node[1]
        used.add(vname)
        if vname not in op.variables:
            who = f' by operation "{op.name}"' if op.name else ""
            return [error(f'Variable "${vname}" is not defined{who}.', loc)]
        vtype, default, _ = op.variables[vname]
        allowed = expected is None or vtype in (expected, expected + "!") or (
            expected.endswith("!") and vtype == expected[:-1] and default is not _NONE and default != ("const", None))
        if not allowed:
            return [error(f'Variable "${vname}" of type "{vtype}" used in position expecting type "{expected}".', loc)]
        return []
    errors: list[dict[str, Any]] = []
    children = node[1] if node[0] == "list" else list(node[1].values()) if node[0] == "obj" else []
    for child in children:
        errors += _check_var_use(child, None, op, used, loc)
    return errors


def _check_var_value(vname: str, vtype: str, value: Any, loc: Any) -> list[dict[str, Any]]:
    t = named_type(vtype)
    bad = None
    if value is None:
        return []
    if t == "String" and not isinstance(value, str):
        bad = f"String cannot represent a non string value: {json.dumps(value)}"
    elif t == "ID" and (isinstance(value, bool) or not isinstance(value, (str, int))):
        bad = f"ID cannot represent value: {json.dumps(value)}"
    elif t == "JSONObject" and not isinstance(value, dict):
        bad = f"JSONObject cannot represent non-object value: {json.dumps(value)}"
    elif t == "EventQueryOptions":
        if not isinstance(value, dict):
            bad = 'Expected type "EventQueryOptions" to be an object.'
        else:
            unknown = [k for k in value if k not in EVENT_QUERY_OPTIONS_FIELDS]
            if unknown:
                bad = f'Field "{unknown[0]}" is not defined by type "EventQueryOptions".'
    if bad:
        return [error(f'Variable "${vname}" got invalid value {json.dumps(value)}; {bad}', loc)]
    return []


def _resolve(node: Any, values: dict[str, Any]) -> Any:
    kind, v = node
    if kind == "var":
        return values.get(v)
    if kind == "list":
        return [_resolve(x, values) for x in v]
    if kind == "obj":
        return {k: _resolve(x, values) for k, x in v.items()}
    return v


# ------------------------------------------------------------------------------------------------
# Answers
# ------------------------------------------------------------------------------------------------


def project(value: Any, selections: list[Field], type_name: str) -> Any:
    """`value` (a full object of `type_name`, or a list of them, or None) cut down to the selected
    fields, keyed by alias where there is one, in the document's order."""
    if value is None:
        return None
    if isinstance(value, list):
        return [project(v, selections, type_name) for v in value]
    fields = TYPES[type_name]
    out: dict[str, Any] = {}
    for f in selections:
        if f.name == "__typename":
            out[f.key] = type_name
            continue
        v = value.get(f.name)
        out[f.key] = project(v, f.selections, named_type(fields[f.name])) if f.selections else v
    return out
