"""Sandboxed Jinja2 templates and expressions over a run's scope: vars, env, secrets, nodes, prev, run."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import nodes as ast
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser
from jinja2.runtime import StrictUndefined, Undefined

from resumeflow_core.sandbox import (
    BoundedSandbox,
    LimitExceeded,
    TimeBudget,
    charge_output,
    evaluation,
    size_of,
    tick,
    untimed,
)

TEMPLATE_CACHE_SIZE = 4096
"""Distinct template strings (and expressions) kept compiled."""

SCOPE_NAMES = ("vars", "env", "secrets", "nodes", "prev", "run")
"""The top-level names every template sees."""


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""The value of `TemplateContext.prev` when the node has no single taken parent."""


class TemplateError(Exception):
    """A template or expression that cannot be compiled or evaluated.

    Attributes:
        message: What went wrong; for an undefined name, the name itself (`'vars.token' is undefined`).
        path: Where the template sits inside the rendered value (`headers.Authorization`), or "".
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class TemplateLimitError(TemplateError):
    """A template went over an evaluation limit (size, integer bits, nesting, range, time).

    Attributes:
        limit: The limit's name, as README documents it (`MAX_TEMPLATE_VALUE_CHARS`, ...).
    """

    def __init__(self, message: str, limit: str, path: str = "") -> None:
        super().__init__(message, path)
        self.limit = limit


class _ScopeDict(dict[Any, Any]):
    """A dict that knows its path in the template scope, so a missing key can be named in full."""

    __slots__ = ("path",)

    def __init__(self, path: str, data: Mapping[Any, Any]) -> None:
        super().__init__(data)
        self.path = path


class _Undefined(StrictUndefined):
    """StrictUndefined whose message names the full path of a missing key (`'nodes.login.body.token'`)."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        owner = self._undefined_obj
        if self._undefined_hint is None and isinstance(owner, _ScopeDict):
            return f"{_join(owner.path, self._undefined_name)!r} is undefined"
        return str(super()._undefined_message)


class _Environment(BoundedSandbox):
    """The sandbox, immutable so templates cannot change the run state they read by reference,
    and bounded in size and time (resumeflow_core.sandbox).

    Dict lookups put keys before attributes, both for `a.b` and `a['b']`: JSON bodies often
    have keys such as "items" or "values" that must not resolve to dict methods.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict):
            return self._lookup(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, dict):
            return self._lookup(obj, argument)
        return super().getitem(obj, argument)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        # Say "dict", not the name of our wrapper class.
        kind = "dict" if isinstance(obj, dict) else type(obj).__name__
        return self.undefined(
            f"access to attribute {attribute!r} of a {kind} is not allowed",
            name=attribute,
            obj=obj,
            exc=SecurityError,
        )

    def _lookup(self, obj: dict[Any, Any], key: Any) -> Any:
        tick()
        try:
            value = obj[key]
        except (TypeError, LookupError):
            if isinstance(key, str) and hasattr(dict, key):
                # Dict methods such as keys() stay usable.
                return super().getattr(obj, key)
            return self.undefined(obj=obj, name=key)
        if isinstance(obj, _ScopeDict) and isinstance(value, dict) and not isinstance(value, _ScopeDict):
            # Wrapped lazily, one level per access: only what a template touches is copied.
            return _ScopeDict(_join(obj.path, key), value)
        return value


_ENV = _Environment(autoescape=False, undefined=_Undefined, keep_trailing_newline=True)
_NO_PREV = _Undefined(
    hint="'prev' is undefined: the node does not have exactly one parent whose result it uses",
    name="prev",
)


@dataclass(frozen=True, eq=False)
class TemplateContext:
    """The scope templates are evaluated in.

    The mappings are copied once into dicts of the context's own; they are live afterwards: the
    executor adds node outputs and variables to them in place, and every context derived with
    `with_prev` shares them, so no node pays for a copy of the whole run's outputs.
    """

    vars: dict[str, Any] = field(default_factory=dict)
    """Run variables: inputs plus what nodes wrote."""
    env: dict[str, Any] = field(default_factory=dict)
    """Non-secret environment values."""
    secrets: dict[str, Any] = field(default_factory=dict)
    """Runtime secrets."""
    nodes: dict[str, Any] = field(default_factory=dict)
    """Node id → that node's output."""
    run: dict[str, Any] = field(default_factory=dict)
    """id, workflow_id, workflow_version, root_run_id, lineage_depth."""
    prev: Any = UNSET
    """The output of the node's single taken parent; UNSET (undefined in templates) otherwise."""
    budget: TimeBudget = field(default_factory=TimeBudget, compare=False)
    """The evaluation time left to templates in this context; each derived context gets a fresh one."""

    def __post_init__(self) -> None:
        for name in ("vars", "env", "secrets", "nodes", "run"):
            object.__setattr__(self, name, _scope_dict(name, getattr(self, name)))

    def with_prev(self, prev: Any) -> TemplateContext:
        """A context sharing this one's mappings, with `prev` set (UNSET for none)."""
        # Every node derives one: the constructor costs a fraction of dataclasses.replace.
        return TemplateContext(
            vars=self.vars, env=self.env, secrets=self.secrets, nodes=self.nodes, run=self.run, prev=prev
        )


def render(value: Any, context: TemplateContext, extra: Mapping[str, Any] | None = None) -> Any:
    """Render every template string inside `value` (dicts and lists walked; keys are left alone).

    A string that is exactly one `{{ expr }}` (whitespace around allowed) becomes the native
    value of `expr`; other template strings render to strings; plain strings come back as they are.

    Args:
        value: Any JSON-like value, typically a node's config.
        context: The scope.
        extra: Further top-level names, such as `response`.

    Returns:
        New containers holding the rendered values.

    Raises:
        TemplateLimitError: A template went over an evaluation limit (the context's time budget included).
        TemplateError: A template has a syntax error, uses an undefined name, breaks the sandbox or fails.
    """
    with _errors(), evaluation(context.budget):
        return _Renderer(context, extra).walk(value)


def evaluate(expression: Any, context: TemplateContext, extra: Mapping[str, Any] | None = None) -> Any:
    """Evaluate one expression, written bare (`a > 1`) or as a template (`{{ a > 1 }}`), to its native value.

    A value that is not a string is returned as it is (a YAML `true`, say).

    Raises:
        TemplateLimitError, TemplateError: As for `render`.
    """
    if not isinstance(expression, str):
        return expression
    renderer = _Renderer(context, extra)
    with _errors(expression, secret=bool(context.secrets)), evaluation(context.budget):
        return _compile_expression(expression)(renderer.scope())


def check_syntax(value: Any, *, expressions: bool = False) -> list[tuple[str, str]]:
    """Every template string inside `value` that does not compile, as (key path, message).

    Args:
        value: A config or part of one.
        expressions: The strings are expressions (as `evaluate` takes), not templates.
    """
    problems: list[tuple[str, str]] = []
    for path, text in _strings(value, ""):
        if expressions and not text.strip():
            problems.append((path, "an expression is required"))
            continue
        if not expressions and not _has_markers(text):
            continue
        try:
            with _errors():
                _check_tree(_read_only_tree(text, expression=expressions))
        except TemplateError as exc:
            problems.append((path, exc.message))
    return problems


@lru_cache(maxsize=TEMPLATE_CACHE_SIZE)
def _read_only_tree(text: str, *, expression: bool) -> ast.Node:
    """`_parse`, cached for the checks that only read the tree (compiling rewrites its own)."""
    return _parse(text, expression=expression)


def _parse(text: str, *, expression: bool) -> ast.Node:
    """The syntax tree of a template, or of an expression written bare or as a lone `{{ expr }}`."""
    if expression and not _has_markers(text):
        return _parse_expression(text.strip())
    tree = _ENV.parse(text)
    if expression and _lone_expression(tree) is None:
        raise jinja2.TemplateSyntaxError("expected one expression, not a template with text", 1)
    return tree


def _check_tree(tree: ast.Node) -> None:
    """What compiling would refuse besides syntax: unknown filters and tests, a dynamic autoescape.

    Validation stops here, short of compiling: parsing is several times cheaper, and a workflow
    can hold many templates.
    """
    for node in [tree, *tree.find_all((ast.Filter, ast.Test, ast.EvalContextModifier))]:
        if isinstance(node, ast.Filter) and node.name not in _ENV.filters:
            raise jinja2.TemplateAssertionError(f"No filter named {node.name!r}.", node.lineno)
        if isinstance(node, ast.Test) and node.name not in _ENV.tests:
            raise jinja2.TemplateAssertionError(f"No test named {node.name!r}.", node.lineno)
        if isinstance(node, ast.EvalContextModifier) and not all(
            isinstance(option.value, ast.Const) for option in node.options
        ):
            raise jinja2.TemplateSyntaxError("{% autoescape %} takes a constant", node.lineno)


def referenced_names(value: Any, scope: str, *, expression_keys: Collection[str] = ()) -> set[str]:
    """The names templates inside `value` use from `scope`, as `scope.X` or `scope['X']`.

    Args:
        value: A config or part of one.
        scope: A top-level name such as "secrets".
        expression_keys: Top-level keys of `value` whose strings are bare expressions.

    Strings that do not parse are ignored (`check_syntax` reports them); dynamic lookups
    such as `secrets[vars.name]` cannot be known and are not counted.
    """
    names: set[str] = set()
    items = value.items() if isinstance(value, Mapping) else [("", value)]
    for key, item in items:
        for _, text in _strings(item, ""):
            tree = _parse_for_names(text, expression=key in expression_keys)
            if tree is not None:
                names.update(_scope_names(tree, scope))
    return names


def limit_problems(value: Any, *, expression_keys: Collection[str] = ()) -> list[tuple[str, str]]:
    """Templates inside `value` that go over a limit whatever the run, as (key path, message).

    Only constant arithmetic is evaluated (`9 ** (9 ** 7 * 6)`, `'a' * 10**8`), under the same
    limits as at run time; anything depending on the run is left to the run, which fails the
    node TEMPLATE_LIMIT. Strings that do not parse are ignored (`check_syntax` reports them).

    Args:
        value: A config or part of one.
        expression_keys: Top-level keys of `value` whose strings are bare expressions.
    """
    problems: list[tuple[str, str]] = []
    items = value.items() if isinstance(value, Mapping) else [("", value)]
    for key, item in items:
        for path, text in _strings(item, _join("", key) if key != "" else ""):
            tree = _parse_for_names(text, expression=key in expression_keys)
            try:
                _fold(tree)
            except LimitExceeded as exc:
                problems.append((path, str(exc)))
    return problems


_NOT_CONSTANT: Any = object()


def _fold(node: ast.Node | None) -> Any:
    """The value of a constant arithmetic expression, computed under the limits; else _NOT_CONSTANT.

    Raises:
        LimitExceeded: A constant part goes over a limit.
    """
    if isinstance(node, ast.Const):
        return node.value
    if isinstance(node, ast.List | ast.Tuple):
        values = [_fold(item) for item in node.items]
        if any(value is _NOT_CONSTANT for value in values):
            return _NOT_CONSTANT
        return values if isinstance(node, ast.List) else tuple(values)
    if isinstance(node, ast.BinExpr | ast.Neg | ast.Pos):
        operands = [_fold(child) for child in node.iter_child_nodes()]
        if any(value is _NOT_CONSTANT for value in operands):
            return _NOT_CONSTANT
        try:
            if isinstance(node, ast.BinExpr):
                return _ENV.call_binop(None, node.operator, *operands)  # type: ignore[arg-type]
            return _ENV.call_unop(None, node.operator, *operands)  # type: ignore[arg-type]
        except LimitExceeded:
            raise
        except Exception:  # noqa: BLE001 - `1 / 0` and the like fail at run time, if reached
            return _NOT_CONSTANT
    for child in node.iter_child_nodes() if node is not None else ():
        _fold(child)
    return _NOT_CONSTANT


class _Renderer:
    """One render: builds the scope on first use and walks a value."""

    def __init__(self, context: TemplateContext, extra: Mapping[str, Any] | None) -> None:
        self._context = context
        self._extra = extra
        self._scope: dict[str, Any] | None = None

    def scope(self) -> dict[str, Any]:
        if self._scope is None:
            context = self._context
            self._scope = {
                "vars": context.vars,
                "env": context.env,
                "secrets": context.secrets,
                "nodes": context.nodes,
                "run": context.run,
                "prev": _NO_PREV if context.prev is UNSET else _wrap("prev", context.prev),
            }
            for name, item in (self._extra or {}).items():
                self._scope[name] = _wrap(name, item)
        return self._scope

    def walk(self, value: Any) -> Any:
        if isinstance(value, str):
            if not _has_markers(value):
                return value  # the fast path: no Jinja involved
            with _errors(value, secret=bool(self._context.secrets)):
                return _compile_template(value)(self.scope())
        if isinstance(value, Mapping):
            return {key: self._child(key, item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._child(index, item) for index, item in enumerate(value)]
        return value

    def _child(self, key: Any, item: Any) -> Any:
        try:
            return self.walk(item)
        except TemplateError as exc:
            # Paths are built on the way up, so the common, error-free walk formats none.
            exc.path = _prefix(key, exc.path)
            raise


@contextmanager
def _errors(source: str = "", *, secret: bool = False) -> Iterator[None]:
    """Turn whatever compiling or evaluating a template raises into TemplateError.

    Cases: (1) syntax errors; (2) undefined names and sandbox violations; (3) an evaluation
    limit; (4) anything else the expression itself raises (`1 / 0`, `'a' + 1`). With `secret`
    (the run has secrets), the messages of (2) and (4) go through `_withheld`.
    """
    try:
        yield
    except TemplateError:
        raise
    except LimitExceeded as exc:  # case (3)
        raise TemplateLimitError(str(exc), exc.limit) from None
    except jinja2.TemplateSyntaxError as exc:  # case (1)
        where = f" (line {exc.lineno})" if exc.lineno > 1 else ""
        raise TemplateError(f"template syntax error: {exc.message}{where}") from exc
    except jinja2.TemplateError as exc:  # case (2)
        raise TemplateError(_withheld(exc, exc.message or type(exc).__name__, source, secret)) from exc
    except RecursionError as exc:  # case (4), without the repr of a deep value
        raise TemplateError("RecursionError: the template nests or recurses too deeply") from exc
    except Exception as exc:  # case (4)
        raise TemplateError(_withheld(exc, f"{type(exc).__name__}: {exc}", source, secret)) from exc


# The messages of an undefined name and of a sandbox refusal; the name as repr() quotes it.
_NAMING = re.compile(
    r"""(?:access to attribute )?('[^']*'|"[^"]*")(?: is undefined| of a \w+ is not allowed)"""
)
_SOURCE_SHOWN = 200  # characters of a template quoted in place of a withheld message


def _withheld(error: Exception, message: str, source: str, secret: bool) -> str:
    """`message`, unless it may quote a value computed from a secret: then the template instead.

    An evaluation error's text may quote any value the template computed (a key it looked up, a
    string it could not convert), and a value built from a secret is masked by the runner only
    while it keeps the secret whole and in a known encoding. So in a run with secrets only the
    message of an undefined name or a sandbox refusal, naming what the template itself spells, is
    kept.
    """
    if not secret or message == _NO_PREV._undefined_hint:
        return message
    named = _NAMING.fullmatch(message)
    if named is not None and all(word in source for word in re.findall(r"\w+", named.group(1))):
        return message
    shown = source if len(source) <= _SOURCE_SHOWN else source[:_SOURCE_SHOWN] + "…"
    return f"{type(error).__name__} in template {shown!r} (details withheld: the run has secrets)"


_Compiled = Callable[[dict[str, Any]], Any]


@lru_cache(maxsize=TEMPLATE_CACHE_SIZE)
def _compile_template(source: str) -> _Compiled:
    """Compile a template string; a lone `{{ expr }}` compiles to a native evaluation of expr.

    Compiling (here, on a cache miss only) is not charged to the evaluation's time budget.
    """
    with untimed():
        tree = _ENV.parse(source)
        expression = _lone_expression(tree)
        if expression is not None:
            return _native(expression)
        return _ENV.from_string(_ENV.bound_tree(tree)).render


@lru_cache(maxsize=TEMPLATE_CACHE_SIZE)
def _compile_expression(source: str) -> _Compiled:
    """Compile an expression written bare or as a lone `{{ expr }}` (untimed, as templates)."""
    with untimed():
        tree = _parse(source, expression=True)
        expression = tree if not isinstance(tree, ast.Template) else _lone_expression(tree)
        return _native(expression)  # type: ignore[arg-type]  # _parse checked there is one


def _native(expression: ast.Expr) -> _Compiled:
    # The same construction as Environment.compile_expression, from an already parsed node.
    body = [ast.Assign(ast.Name("result", "store"), expression, lineno=1)]
    tree = _ENV.bound_tree(ast.Template(body, lineno=1))
    compiled = TemplateExpression(_ENV.from_string(tree), False)
    return lambda scope: _charged(compiled(scope))


def _charged(value: Any) -> Any:
    """A native result made plain and counted against the output limit, like rendered text.

    Untimed: the cost is linear in a value that exists already (often a node's output passed
    on), and the size walk stops at the limit.
    """
    if isinstance(value, str):
        charge_output(len(value))
        return value if type(value) is str else str(value)
    if not isinstance(value, dict | list | tuple) or len(value) < _LARGE:
        value = _plain(value)
        charge_output(size_of(value))
        return value
    with untimed():
        value = _plain(value)
        charge_output(size_of(value))
    return value


_LARGE = 256
"""Items from which a native result's walk is worth timing apart."""


def _parse_expression(source: str) -> ast.Expr:
    parser = Parser(_ENV, source, state="variable")
    expression = parser.parse_expression()
    if not parser.stream.eos:
        raise jinja2.TemplateSyntaxError("unexpected text after the expression", parser.stream.current.lineno)
    expression.set_environment(_ENV)
    return expression


def _lone_expression(tree: ast.Template) -> ast.Expr | None:
    """The expression of a template made of one `{{ expr }}` and whitespace, else None."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Output):
        return None
    parts = [
        part
        for part in tree.body[0].nodes
        if not (isinstance(part, ast.TemplateData) and not part.data.strip())
    ]
    if len(parts) == 1 and not isinstance(parts[0], ast.TemplateData):
        return parts[0]
    return None


def _plain(value: Any) -> Any:
    """A native result with scope wrappers, Markup and tuples turned into plain JSON-like values.

    Raises:
        UndefinedError: The result is, or contains, an undefined value.
    """
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, str):
        return value if type(value) is str else str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _has_markers(text: str) -> bool:
    return "{{" in text or "{%" in text


def _scope_dict(path: str, value: Mapping[str, Any]) -> _ScopeDict:
    if type(value) is _ScopeDict and value.path == path:
        return value
    return _ScopeDict(path, value)


def _wrap(path: str, value: Any) -> Any:
    if isinstance(value, dict) and not isinstance(value, _ScopeDict):
        return _ScopeDict(path, value)
    return value


def _join(path: str, key: Any) -> str:
    """`path.key` for identifier keys, `path['key']` / `path[0]` otherwise."""
    if isinstance(key, str) and key.isidentifier():
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


def _prefix(key: Any, path: str) -> str:
    head = _join("", key)
    if not path:
        return head
    return head + path if path.startswith("[") else f"{head}.{path}"


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string inside `value`, with its key path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, _join(path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, _join(path, index))


def _parse_for_names(text: str, *, expression: bool) -> ast.Node | None:
    if not (expression or _has_markers(text)):
        return None
    try:
        # Parsed as a template whenever it has markers, as before, so `{{ a }} text` still counts.
        return _read_only_tree(text, expression=expression and not _has_markers(text))
    except (jinja2.TemplateSyntaxError, RecursionError):
        return None


def _scope_names(tree: ast.Node, scope: str) -> Iterator[str]:
    lookups = (ast.Getattr, ast.Getitem, ast.Call)
    # find_all() skips the root itself, which a bare expression may be.
    found = [tree] if isinstance(tree, lookups) else []
    getters = set()
    for node in [*found, *tree.find_all(lookups)]:
        if isinstance(node, ast.Call):
            # `secrets.get('gamma')` names gamma, not get.
            name = _getter_argument(node, scope)
            if name is not None:
                getters.add(id(node.node))
                yield name
            continue
        owner = node.node  # type: ignore[attr-defined]  # Getattr and Getitem both have it
        if not (isinstance(owner, ast.Name) and owner.name == scope) or id(node) in getters:
            continue
        if isinstance(node, ast.Getattr):
            yield node.attr
        elif isinstance(node, ast.Getitem) and isinstance(node.arg, ast.Const):
            yield from [node.arg.value] if isinstance(node.arg.value, str) else []


def _getter_argument(call: ast.Call, scope: str) -> str | None:
    """X of `scope.get('X', ...)`, or None for any other call."""
    method = call.node
    if not (isinstance(method, ast.Getattr) and method.attr == "get" and isinstance(method.node, ast.Name)):
        return None
    if method.node.name != scope or not call.args or not isinstance(call.args[0], ast.Const):
        return None
    value = call.args[0].value
    return value if isinstance(value, str) else None
