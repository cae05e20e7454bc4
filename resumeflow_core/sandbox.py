"""The bounded Jinja2 sandbox: every value a template computes, and the time it spends, has a limit.

Jinja2's sandbox stops templates reaching Python internals but not exhausting the process:
`9 ** 9 ** 9`, `'a' * 10**9` or nested loops run in C or in a tight loop on the event loop.
Here every operator, call, filter, attribute lookup, loop iteration and output goes through a
check: results are estimated *before* they are built where they could be large, and a deadline
is checked often enough that no evaluation outlives its time budget by more than one bounded step.
Nothing is folded at compile time (`optimized=False`, a context-passing finalize), so compiling a
template never evaluates any of it.
"""

from __future__ import annotations

import inspect
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from string import Formatter
from typing import Any, TypeGuard

from jinja2 import TemplateSyntaxError, pass_context
from jinja2 import nodes as ast
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import _PassArg
from markupsafe import EscapeFormatter, Markup

from resumeflow_core.limits import (
    MAX_TEMPLATE_INTEGER_BITS,
    MAX_TEMPLATE_ITEMS,
    MAX_TEMPLATE_NESTING,
    MAX_TEMPLATE_SECONDS,
    MAX_TEMPLATE_VALUE_CHARS,
)

ITERATE_FILTER = "_bounded_iterate"
"""The filter every `{% for %}` iterates through, so each iteration checks the deadline."""
CONCAT_FILTER = "_bounded_concat"
"""The filter every `~` goes through, so the joined size is checked before it is built."""


class LimitExceeded(Exception):
    """A template went over one of the evaluation limits.

    Attributes:
        limit: The name of the limit (`MAX_TEMPLATE_VALUE_CHARS`, ...), as README documents it.
    """

    def __init__(self, limit: str, what: str) -> None:
        super().__init__(f"template limit {limit} exceeded: {what}")
        self.limit = limit


def _too_large(what: str) -> LimitExceeded:
    return LimitExceeded(
        "MAX_TEMPLATE_VALUE_CHARS", f"{what} would be over {MAX_TEMPLATE_VALUE_CHARS} characters"
    )


@dataclass
class TimeBudget:
    """The evaluation time one node attempt may still spend in templates, in seconds."""

    remaining: float = MAX_TEMPLATE_SECONDS


_cpu_clock = time.thread_time
"""CPU time of the evaluating thread: a loaded machine does not make a template run out of time.
It is a system call, so `tick()` reads the cheap wall clock and asks this one only when the
wall-clock deadline has passed."""


class _Evaluation:
    """The state of one evaluation in progress: its deadlines (CPU, and the wall-clock time at
    which the CPU one is checked next), the output produced so far and the time spent compiling,
    which is not charged."""

    __slots__ = ("cpu_deadline", "output", "untimed", "wall_deadline")

    def __init__(self, seconds: float) -> None:
        self.cpu_deadline = _cpu_clock() + seconds
        self.wall_deadline = time.monotonic() + seconds
        self.output = 0
        self.untimed = 0.0

    def extend(self, seconds: float) -> None:
        self.cpu_deadline += seconds
        self.wall_deadline += seconds
        self.untimed += seconds


_CURRENT: ContextVar[_Evaluation | None] = ContextVar("resumeflow_template_evaluation", default=None)


@contextmanager
def evaluation(budget: TimeBudget) -> Iterator[None]:
    """Evaluate templates inside this block under `budget`, which is charged the CPU time spent.

    Raises:
        LimitExceeded: The budget is already spent (inside the block: any limit).
    """
    if budget.remaining <= 0:
        raise _out_of_time()
    start = _cpu_clock()
    state = _Evaluation(budget.remaining)
    token = _CURRENT.set(state)
    try:
        yield
    finally:
        _CURRENT.reset(token)
        budget.remaining -= _cpu_clock() - start - state.untimed


@contextmanager
def untimed() -> Iterator[None]:
    """Leave the time spent inside this block (compiling a template) out of the evaluation's."""
    state = _CURRENT.get()
    start = time.monotonic()
    try:
        yield
    finally:
        if state is not None:
            state.extend(time.monotonic() - start)


def tick() -> None:
    """Check the deadline of the evaluation in progress."""
    state = _CURRENT.get()
    if state is None or time.monotonic() <= state.wall_deadline:
        return
    left = state.cpu_deadline - _cpu_clock()
    if left <= 0:
        raise _out_of_time()
    state.wall_deadline = time.monotonic() + left  # the thread was not running all along


def charge_output(chars: int) -> None:
    """Count `chars` of produced output against the evaluation's output limit."""
    state = _CURRENT.get()
    if state is None:
        return
    state.output += chars
    if state.output > MAX_TEMPLATE_VALUE_CHARS:
        raise _too_large("the output")


def _out_of_time() -> LimitExceeded:
    return LimitExceeded("MAX_TEMPLATE_SECONDS", f"evaluation took longer than {MAX_TEMPLATE_SECONDS:g} s")


def size_of(value: Any, limit: int = MAX_TEMPLATE_VALUE_CHARS) -> int:
    """About the JSON length of `value`, counted only until it passes `limit`.

    Shared references count once per place (`[s] * 3` is three times `s`), as rendering does.

    Raises:
        LimitExceeded: The value nests deeper than MAX_TEMPLATE_NESTING or holds an integer over
            MAX_TEMPLATE_INTEGER_BITS.
    """
    total = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack and total <= limit:
        item, depth = stack.pop()
        if not isinstance(item, dict | list | tuple | set | frozenset):
            total += _scalar_size(item)
            continue
        if depth >= MAX_TEMPLATE_NESTING:
            raise LimitExceeded("MAX_TEMPLATE_NESTING", f"a value nests deeper than {MAX_TEMPLATE_NESTING}")
        total += 2 + len(item)  # brackets and one separator per item, before looking inside
        if total > limit:
            break
        parts = (part for pair in item.items() for part in pair) if isinstance(item, dict) else item
        for part in parts:
            kind = type(part)
            if kind is str:  # the common leaves, without a trip through the stack
                total += len(part)
            elif kind is int:
                bits = part.bit_length()
                if bits > MAX_TEMPLATE_INTEGER_BITS:
                    raise _too_many_bits()
                total += bits * 3 // 10 + 1
            elif kind is float or kind is bool or part is None:
                total += 5
            else:
                stack.append((part, depth + 1))
    return total


def _scalar_size(item: Any) -> int:
    if isinstance(item, str | bytes | bytearray):
        return len(item)
    if isinstance(item, bool) or item is None:
        return 5
    if isinstance(item, int):
        check_integer(item)
        return int(item.bit_length() * 3 // 10 + 1)
    return 16  # floats, undefined values, functions: small when rendered


def check_footprint(value: Any, what: str) -> Any:
    """Return `value` when its length (its memory: a list holds references) and, for an
    integer, its bits are within the limits; nothing is walked, so this is cheap for any value.

    Raises:
        LimitExceeded: They are not.
    """
    if isinstance(value, int):
        check_integer(value)
    elif isinstance(value, str | bytes | bytearray | dict | list | tuple | set | frozenset):
        _check_size(len(value), what)
    return value


def check_value(value: Any, what: str = "a value") -> Any:
    """Return `value` when it is within the size limits.

    Raises:
        LimitExceeded: It is not.
    """
    if isinstance(value, str):  # the common case, without the walk
        if len(value) > MAX_TEMPLATE_VALUE_CHARS:
            raise _too_large(what)
    elif size_of(value) > MAX_TEMPLATE_VALUE_CHARS:
        raise _too_large(what)
    return value


def check_integer(value: int) -> None:
    if value.bit_length() > MAX_TEMPLATE_INTEGER_BITS:
        raise _too_many_bits()


def _too_many_bits() -> LimitExceeded:
    return LimitExceeded(
        "MAX_TEMPLATE_INTEGER_BITS", f"an integer would have more than {MAX_TEMPLATE_INTEGER_BITS} bits"
    )


def _check_size(estimate: float, what: str) -> None:
    if estimate > MAX_TEMPLATE_VALUE_CHARS:
        raise _too_large(what)


# --- estimates of results, made before an operation builds them ------------------------------


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int)  # bool included: True * 'a' is 'a'


def _check_power(base: Any, exponent: Any) -> None:
    if not (_is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1):
        return
    if math.log2(abs(base)) * exponent > MAX_TEMPLATE_INTEGER_BITS:
        raise _too_many_bits()


def _check_product(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        if left.bit_length() + right.bit_length() > MAX_TEMPLATE_INTEGER_BITS + 1:
            raise _too_many_bits()
        return
    # Sequences are measured by length, not walked: a list holds references, so its memory is
    # its length; what it renders to is checked where it is rendered (output, join, tojson).
    sequence, times = (left, right) if _is_int(right) else (right, left)
    if _is_int(times) and isinstance(sequence, str | bytes | list | tuple) and times > 0:
        _check_size(len(sequence) * times, "a repeated sequence")


def _check_sum(left: Any, right: Any) -> None:
    same = (str, bytes, list, tuple)
    if any(isinstance(left, kind) and isinstance(right, kind) for kind in same):
        _check_size(len(left) + len(right), "a concatenation")


_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")


def _check_printf(template: str | bytes, arguments: Any) -> None:
    """`template % arguments`: widths and precisions (`%0999999999d`, `%*d`) counted in advance."""
    text = template.decode("latin-1") if isinstance(template, bytes) else template
    values = list(arguments) if isinstance(arguments, tuple) else [arguments]
    estimate = len(text) + size_of(arguments)
    for width, precision, conversion in _PRINTF_SPEC.findall(text):
        for part in (width, precision):
            if part == "*":
                star = values.pop(0) if values else 0
                estimate += star if _is_int(star) else 0
            elif part:
                estimate += int(part)
        if conversion != "%" and values:
            values.pop(0)
        _check_size(estimate, "a formatted string")


def _check_padding(text: Any, width: Any, what: str) -> None:
    if _is_int(width):
        _check_size(max(size_of(text), width), what)


def _check_replace(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    if len(new) <= len(old):
        return
    hits = text.count(old) if old else len(text) + 1
    if _is_int(count) and count >= 0:
        hits = min(hits, count)
    _check_size(len(text) + hits * (len(new) - len(old)), "a replaced string")


def _check_join(separator: Any, items: list[Any]) -> None:
    estimate = size_of(separator) * max(0, len(items) - 1)
    for item in items:
        _check_size(estimate, "a joined string")
        estimate += size_of(item)
    _check_size(estimate, "a joined string")


def _materialize(items: Any) -> Any:
    """A list of an iterable (a generator, a map, a range) so that it can be measured and reused."""
    if isinstance(items, str | bytes | dict | list | tuple) or not isinstance(items, Iterable):
        return items
    collected = []
    for item in items:
        tick()
        collected.append(item)
        if len(collected) > MAX_TEMPLATE_VALUE_CHARS:
            raise _too_large("a sequence")
    return collected


def _check_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Estimate what a method of a str, bytes or int would build; return args (maybe materialized)."""
    owner = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    first = args[0] if args else None
    if isinstance(owner, str | bytes | bytearray):
        if name in ("ljust", "rjust", "center", "zfill"):
            _check_padding(owner, first, f"the result of {name}()")
        elif name == "expandtabs":
            size = first if args else kwargs.get("tabsize", 8)
            tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
            if _is_int(size):
                _check_size(len(owner) + tabs * size, "the result of expandtabs()")
        elif name == "replace" and len(args) >= 2:
            _check_replace(owner, *args[:3])
        elif name == "join" and args:
            items = _materialize(first)
            if isinstance(items, list | tuple):
                _check_join(owner, list(items))
            return (items, *args[1:])
        elif name == "translate" and isinstance(first, dict):
            longest = max((size_of(value) for value in first.values()), default=1)
            _check_size(len(owner) * max(longest, 1), "the result of translate()")
    elif _is_int(owner) and name == "to_bytes":
        length = first if args else kwargs.get("length", 1)
        if _is_int(length):
            _check_size(length, "the result of to_bytes()")
    return args


# --- filters ---------------------------------------------------------------------------------


_PASSED = ("environment", "eval_ctx", "context")
"""What Jinja2's filters call the argument it passes them (pass_environment and the like)."""


def _filter_arguments(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], *, passed: bool
) -> dict[str, Any]:
    """The filter's arguments by name; `passed`: args[0] is the context Jinja2 passes."""
    signature = inspect.signature(func)
    if passed and next(iter(signature.parameters), "") not in _PASSED:
        args = args[1:]  # async_variant filters take it without declaring it
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


_CHECKED = frozenset(
    {"center", "indent", "wordwrap", "format", "replace", "batch", "slice", "sort", "dictsort", "unique"}
    | {"groupby", "pprint", "tojson", "urlize", "string", "list"}
)
"""Filters that can build much more than they take, or take long over a large input."""


def _check_filter(
    name: str, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], *, passed: bool
) -> None:
    """Estimate what a size-multiplying filter would build, before it builds it."""
    if name not in _CHECKED:
        return
    given = _filter_arguments(func, args, kwargs, passed=passed)
    value = given.get("value", given.get("s"))
    if name == "center":
        _check_padding(value, given.get("width"), "the result of center")
    elif name == "indent":
        width = given.get("width")
        pad = len(width) if isinstance(width, str) else width if _is_int(width) else 0
        lines = value.count("\n") + 1 if isinstance(value, str) else 1
        _check_size(size_of(value) + pad * lines, "the result of indent")
    elif name == "wordwrap":
        width, wrap = given.get("width"), given.get("wrapstring") or "\n"
        if isinstance(value, str) and _is_int(width) and width > 0 and isinstance(wrap, str):
            _check_size(len(value) + len(wrap) * (len(value) // width + 1), "the result of wordwrap")
    elif name == "format" and isinstance(value, str):
        _check_printf(value, tuple(given.get("args", ())) or dict(given.get("kwargs", {})))
    elif name == "replace":
        _check_replace(value, given.get("old"), given.get("new"), given.get("count"))
    elif name == "batch" and given.get("fill_with") is not None:
        _check_size(given.get("linecount", 0), "the result of batch")
    elif name == "slice" and _is_int(given.get("slices")):
        _check_size(given["slices"], "the result of slice")
    elif name in ("sort", "dictsort", "unique", "groupby") and isinstance(value, Sized):
        if len(value) > MAX_TEMPLATE_ITEMS:
            raise LimitExceeded("MAX_TEMPLATE_ITEMS", f"{name} of more than {MAX_TEMPLATE_ITEMS} items")
    elif name in ("pprint", "tojson", "urlize", "string"):
        _check_size(size_of(value), f"the input of {name}")
    elif name == "list" and isinstance(value, Sized):
        _check_size(len(value), "the result of list")  # `long_string|list` is a list per character


_STRUCTURAL = frozenset(
    {"length", "count", "first", "last", "random", "default", "d", "attr", "min", "max", "map", "select"}
    | {"reject", "selectattr", "rejectattr", "list", "sort", "unique", "groupby", "batch", "slice"}
    | {"dictsort", "items", "reverse", "join", "sum", "int", "float", "abs", "round", "tojson"}
)
"""Filters that work on a container's items (or are checked on their own), never on its text:
every other filter given a list or a mapping renders it to text first (`upper`, `e`, `urlencode`),
so its rendered size is checked before."""
_MATERIALIZED = frozenset({"join", "sum"})
"""Filters whose input is collected first, so its size can be known before they combine it."""
_PASS_THROUGH = frozenset(
    {"first", "last", "random", "default", "d", "attr", "min", "max", "length", "count"}
)
"""Filters that return a value that exists already (or a number): no result check."""


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    skip = 0 if _PassArg.from_obj(func) is None else 1  # the context / environment argument

    @wraps(func)  # keeps jinja_pass_arg, so Jinja still passes the context
    def bounded(*args: Any, **kwargs: Any) -> Any:
        tick()
        if name not in _STRUCTURAL and len(args) > skip and isinstance(args[skip], _CONTAINERS):
            _check_size(size_of(args[skip]), f"the input of {name}")
        if name in _MATERIALIZED and len(args) > skip:
            args = (*args[:skip], _materialize(args[skip]), *args[skip + 1 :])
            if name == "join" and kwargs.get("attribute") is None and len(args) <= skip + 2:
                separator = args[skip + 1] if len(args) > skip + 1 else kwargs.get("d", "")
                items = args[skip]
                if isinstance(items, str):  # joins its characters
                    _check_size(len(items) * (1 + size_of(separator)), "a joined string")
                elif isinstance(items, list):
                    _check_join(separator, items)
            elif name == "sum" and isinstance(args[skip], list):
                start = args[skip + 2] if len(args) > skip + 2 else kwargs.get("start", 0)
                attribute = args[skip + 1] if len(args) > skip + 1 else kwargs.get("attribute")
                if isinstance(start, list | tuple) and attribute is None:
                    return _sum_sequences(start, args[skip])
        else:
            _check_filter(name, func, args, kwargs, passed=skip == 1)
        result = func(*args, **kwargs)
        return result if name in _PASS_THROUGH else check_footprint(result, f"the result of {name}")

    return bounded


_CONTAINERS = (dict, list, tuple, set, frozenset)


def _sum_sequences(start: list[Any] | tuple[Any, ...], items: list[Any]) -> Any:
    """`sum(items, start)` of lists in linear time: Python's repeated `+` is quadratic, in C."""
    result = list(start)
    for item in items:
        tick()
        _check_size(len(result) + len(item), "the result of sum")
        result.extend(item)
    return type(start)(result) if isinstance(start, tuple) else result


def _iterate(items: Any) -> Iterator[Any]:
    for item in items:
        tick()
        yield item


def _concat(parts: list[Any]) -> str:
    tick()
    _check_size(sum(size_of(part) for part in parts), "a concatenation")
    return "".join(map(str, parts))


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    try:
        length = len(numbers)
    except OverflowError:
        length = MAX_TEMPLATE_ITEMS + 1
    if length > MAX_TEMPLATE_ITEMS:
        raise LimitExceeded("MAX_TEMPLATE_ITEMS", f"a range of more than {MAX_TEMPLATE_ITEMS} numbers")
    return numbers


@pass_context
def _finalize(context: Context, value: Any) -> str:
    """Every `{{ }}` output and every piece of literal text: counted against the output limit."""
    tick()
    text = check_value(value, "an output") if isinstance(value, str) else str(check_value(value, "an output"))
    charge_output(len(text))
    return text


class _BoundedFormatter(SandboxedFormatter):
    """`str.format` whose field widths and precisions count toward the size of the result."""

    def __init__(self, env: Any, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._estimate = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        tick()
        widths = [int(digits) for digits in re.findall(r"\d+", format_spec)]
        self._estimate += size_of(value) + sum(widths)
        _check_size(self._estimate, "a formatted string")
        return super().format_field(value, format_spec)


class _BoundedEscapeFormatter(_BoundedFormatter, EscapeFormatter):
    pass


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """ImmutableSandboxedEnvironment with every operation bounded (see the module docstring)."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"+", "-"})

    def __init__(self, **options: Any) -> None:
        super().__init__(optimized=False, finalize=_finalize, **options)
        self.globals["range"] = _bounded_range
        self.globals.pop("lipsum", None)  # builds text of any size in one call
        self.filters = {name: _bounded_filter(name, func) for name, func in self.filters.items()}
        self.filters[ITERATE_FILTER] = _iterate
        self.filters[CONCAT_FILTER] = _concat

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        tick()
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_product(left, right)
        elif operator == "+":
            _check_sum(left, right)
        elif operator == "%" and isinstance(left, str | bytes):
            _check_printf(left, right)
        result = self.binop_table[operator](left, right)
        if _is_int(result):
            check_integer(result)
        elif operator == "%":
            check_footprint(result, "a formatted string")
        return result

    def call_unop(self, context: Context, operator: str, arg: Any) -> Any:
        tick()
        return self.unop_table[operator](arg)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        tick()
        args = _check_method(__obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(getattr(__obj, "__self__", None), dict) and __obj.__name__ == "get":
            return result  # a value the dict already holds
        return check_footprint(result, "the result of a call")

    def getattr(self, obj: Any, attribute: str) -> Any:
        tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        tick()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja2's sandboxed `str.format`, with a formatter that bounds widths (`{:>999999999}`)."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text: str = value.__self__
        formatter = _BoundedEscapeFormatter if isinstance(text, Markup) else _BoundedFormatter
        is_map = value.__name__ == "format_map"

        @wraps(wrapped)
        def bounded(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            engine: Formatter = (
                formatter(self, escape=text.escape) if isinstance(text, Markup) else formatter(self)
            )
            return type(text)(engine.vformat(text, args, kwargs))

        return bounded

    def bound_tree(self, tree: ast.Template) -> ast.Template:
        """Rewrite a parsed template so loops, `~` and literal text go through the checks."""
        for node in list(tree.find_all((ast.For, ast.Concat, ast.Output, ast.EvalContextModifier))):
            if isinstance(node, ast.For):
                node.iter = ast.Filter(node.iter, ITERATE_FILTER, [], [], None, None, lineno=node.lineno)
            elif isinstance(node, ast.Output):
                node.nodes = [_literal(part) for part in node.nodes]
            elif isinstance(node, ast.EvalContextModifier):
                for option in node.options:
                    if not isinstance(option.value, ast.Const):
                        raise TemplateSyntaxError("{% autoescape %} takes a constant", node.lineno)
        # Concat nodes are replaced by their parents' reference, so rebuild them in place.
        for parent in list(tree.find_all(ast.Node)):
            for field in parent.fields:
                child = getattr(parent, field, None)
                if isinstance(child, ast.Concat):
                    setattr(parent, field, _bounded_concat(child))
                elif isinstance(child, list):
                    # In place: a List made from a Concat above shares this very list.
                    child[:] = [_bounded_concat(c) if isinstance(c, ast.Concat) else c for c in child]
        tree.set_environment(self)
        return tree


def _literal(part: ast.Expr) -> ast.Expr:
    # A Const, unlike TemplateData, is output through finalize, where it is counted.
    if isinstance(part, ast.TemplateData):
        return ast.Const(part.data, lineno=part.lineno)
    return part


def _bounded_concat(node: ast.Concat) -> ast.Expr:
    return ast.Filter(
        ast.List(node.nodes, lineno=node.lineno), CONCAT_FILTER, [], [], None, None, lineno=node.lineno
    )
