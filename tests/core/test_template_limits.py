"""Template limits: hostile templates fail TemplateLimitError naming the limit, before building much."""

from __future__ import annotations

import pytest

from resumeflow_core import sandbox
from resumeflow_core.limits import MAX_TEMPLATE_ITEMS, MAX_TEMPLATE_VALUE_CHARS
from resumeflow_core.templates import (
    TemplateContext,
    TemplateError,
    TemplateLimitError,
    check_syntax,
    evaluate,
    limit_problems,
    render,
)

BITS = "MAX_TEMPLATE_INTEGER_BITS"
CHARS = "MAX_TEMPLATE_VALUE_CHARS"
ITEMS = "MAX_TEMPLATE_ITEMS"
NESTING = "MAX_TEMPLATE_NESTING"
SECONDS = "MAX_TEMPLATE_SECONDS"


def context() -> TemplateContext:
    return TemplateContext(vars={"nine": 9, "s": "ab", "n": 10**9, "big": "x" * 1000, "text": "a\tb"})


def limit_of(template: str) -> str:
    with pytest.raises(TemplateLimitError) as caught:
        render(template, context())
    return caught.value.limit


@pytest.mark.parametrize(
    ("template", "limit"),
    [
        pytest.param("{{ (9 ** (9 ** 7 * 6)) > 1 }}", BITS, id="pow-constant"),
        pytest.param("{{ (vars.nine ** (vars.nine ** 7 * 6)) > 1 }}", BITS, id="pow-vars"),
        pytest.param("{{ (10 ** 1000) * (10 ** 1000) }}", BITS, id="int-times-int"),
        pytest.param("{{ ('9' * 4000)|int }}", BITS, id="int-filter"),
        pytest.param("{{ 'a' * 10**8 }}", CHARS, id="str-times"),
        pytest.param("{{ 10**8 * 'a' }}", CHARS, id="times-str"),
        pytest.param("{{ [1] * 10**9 }}", CHARS, id="list-times"),
        pytest.param("{{ [vars.big] * 2000 }}", CHARS, id="list-of-shared-strings"),
        pytest.param("{{ vars.s * vars.n }}", CHARS, id="vars-times"),
        pytest.param("{{ range(10**10)|list }}", ITEMS, id="range"),
        pytest.param("{{ 'x'.ljust(10**9) }}", CHARS, id="ljust"),
        pytest.param("{{ 'x'.center(10**9) }}", CHARS, id="center-method"),
        pytest.param("{{ 'x'.zfill(10**9) }}", CHARS, id="zfill"),
        pytest.param("{{ ('\t' * 1000).expandtabs(10**6) }}", CHARS, id="expandtabs"),
        pytest.param("{{ ('x' * 10**5).replace('x', 'y' * 1000) }}", CHARS, id="replace-method"),
        pytest.param("{{ ('x' * 10**5)|replace('x', 'y' * 1000) }}", CHARS, id="replace-filter"),
        pytest.param("{{ ('y' * 10**6).join(['a', 'b', 'c']) }}", CHARS, id="join-method"),
        pytest.param("{{ range(1000)|join('y' * 10**4) }}", CHARS, id="join-filter"),
        pytest.param("{{ ('x' * 1000)|join('y' * 2000) }}", CHARS, id="join-filter-of-a-string"),
        pytest.param("{{ ('x' * 10**6 ~ 'x' * 10**5)|list }}", CHARS, id="list-of-a-long-string"),
        pytest.param("{{ dict.fromkeys(range(1000), vars.big * 1000)|urlencode }}", CHARS, id="urlencode"),
        pytest.param("{{ ([vars.big * 1000] * 1000)|upper }}", CHARS, id="upper-of-a-list"),
        pytest.param("{{ ([vars.big * 1000] * 1000)|e }}", CHARS, id="escape-of-a-list"),
        pytest.param("{{ vars.big.translate({120: 'y' * 10**4}) }}", CHARS, id="translate"),
        pytest.param("{{ (1).to_bytes(10**9, 'big') }}", CHARS, id="to-bytes"),
        pytest.param("{{ '%0999999999d' % 1 }}", CHARS, id="printf-width"),
        pytest.param("{{ '%.999999999f' % 1 }}", CHARS, id="printf-precision"),
        pytest.param("{{ '%*d' % (10**9, 1) }}", CHARS, id="printf-star"),
        pytest.param("{{ '%0999999999d'|format(1) }}", CHARS, id="format-filter"),
        pytest.param("{{ '{:>999999999}'.format(1) }}", CHARS, id="str-format"),
        pytest.param("{{ '{:{}}'.format(1, 10**9) }}", CHARS, id="str-format-nested-width"),
        pytest.param("{{ '{0:>900000}{0:>900000}'.format(1) }}", CHARS, id="str-format-summed"),
        pytest.param("{{ '{x:>999999999}'.format_map({'x': 1}) }}", CHARS, id="format-map"),
        pytest.param("{{ 'x'|center(10**9) }}", CHARS, id="center-filter"),
        pytest.param("{{ ('x\n' * 1000)|indent(10**6) }}", CHARS, id="indent"),
        pytest.param("{{ ('x' * 10**5)|wordwrap(1, wrapstring='y' * 100) }}", CHARS, id="wordwrap"),
        pytest.param("{{ [1]|batch(10**9, 'x')|list }}", CHARS, id="batch"),
        pytest.param("{{ [1]|slice(10**9)|list }}", CHARS, id="slice"),
        pytest.param("{{ ([[1] * 1000] * 2000)|sum(start=[]) }}", CHARS, id="sum-of-lists"),
        pytest.param(
            "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            CHARS,
            id="tilde-doubling",
        ),
        pytest.param(
            "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
            CHARS,
            id="plus-doubling",
        ),
        pytest.param(
            "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}",
            CHARS,
            id="list-doubling",
        ),
        pytest.param("{% for i in range(100000) %}{{ vars.big }}{% endfor %}", CHARS, id="output-in-a-loop"),
        pytest.param(
            "{% for i in range(100000) %}" + "x" * 10000 + "{% endfor %}",
            CHARS,
            id="literal-text-in-a-loop",
        ),
        pytest.param(
            "{% set x %}{% for i in range(100000) %}{{ vars.big }}{% endfor %}{% endset %}{{ x|length }}",
            CHARS,
            id="block-set",
        ),
        pytest.param(
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
            SECONDS,
            id="nested-for",
        ),
        pytest.param(
            "{% for a in range(100000) %}{% for b in range(100000) %}{% set c = a * b %}"
            "{% endfor %}{% endfor %}",
            SECONDS,
            id="nested-for-with-arithmetic",
        ),
        pytest.param(
            "{% set ns = namespace(l=[]) %}{% for i in range(100) %}{% set ns.l = [ns.l] %}{% endfor %}"
            "{{ ns.l }}",
            NESTING,
            id="nesting",
        ),
    ],
)
def test_a_template_over_a_limit_fails_naming_the_limit(template: str, limit: str) -> None:
    assert limit_of(template) == limit


def test_the_message_names_the_limit_and_the_config_key_but_no_value() -> None:
    with pytest.raises(TemplateLimitError) as caught:
        render({"headers": {"X": "{{ vars.s * vars.n }}"}}, context())

    assert caught.value.path == "headers.X"
    assert CHARS in str(caught.value) and str(MAX_TEMPLATE_VALUE_CHARS) in str(caught.value)
    assert "ab" not in caught.value.message


def test_a_limit_error_is_a_template_error() -> None:
    with pytest.raises(TemplateError):
        evaluate("vars.s * vars.n", context())


def test_expressions_have_the_same_limits() -> None:
    with pytest.raises(TemplateLimitError) as caught:
        evaluate("vars.nine ** (vars.nine ** 7 * 6) > 1", context())

    assert caught.value.limit == BITS


def test_the_time_budget_is_shared_by_every_evaluation_in_a_context() -> None:
    shared = context()
    spin = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateLimitError):
        render(spin, shared)

    with pytest.raises(TemplateLimitError) as caught:
        evaluate("1 + 1", shared)  # nothing left

    assert caught.value.limit == SECONDS
    assert evaluate("1 + 1", shared.with_prev(None)) == 2  # a derived context has a fresh budget


def test_the_rendered_config_as_a_whole_is_limited() -> None:
    # Each value is under the limit, all of them together are not.
    config = {f"k{i}": "{{ vars.big * 100 }}" for i in range(20)}

    with pytest.raises(TemplateLimitError) as caught:
        render(config, context())

    assert caught.value.limit == CHARS


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param("{{ 2 ** 10 }}", 1024, id="pow"),
        pytest.param("{{ 2 ** 4000 > 1 }}", True, id="big-but-allowed-pow"),
        pytest.param("{{ 2 ** -1 }}", 0.5, id="negative-exponent"),
        pytest.param("{{ 1 ** (10 ** 100) }}", 1, id="one-to-a-huge-power"),
        pytest.param("{{ 2.5 * 2 }}", 5.0, id="float-times"),
        pytest.param("{{ vars.s * 3 }}", "ababab", id="str-times"),
        pytest.param("{{ [0] * 3 }}", [0, 0, 0], id="list-times"),
        pytest.param("{{ 'a' ~ 1 ~ 'b' }}", "a1b", id="tilde"),
        pytest.param("{{ ('x' ~ ('y' ~ 'z')) ~ 'w' }}", "xyzw", id="nested-tilde"),
        pytest.param("{{ '%05d|%-3s|%.2f|%%' % (42, 'a', 1.5) }}", "00042|a  |1.50|%", id="printf"),
        pytest.param("{{ '%(a)s' % {'a': 1} }}", "1", id="printf-mapping"),
        pytest.param("{{ '{:>4}|{:.1f}'.format(1, 2.25) }}", "   1|2.2", id="str-format"),
        pytest.param("{{ '{x}'.format_map({'x': 5}) }}", "5", id="format-map"),
        pytest.param("{{ 'x'.ljust(3, '.') }}", "x..", id="ljust"),
        pytest.param("{{ range(5)|join(',') }}", "0,1,2,3,4", id="join"),
        pytest.param("{{ ','.join(['a', 'b']) }}", "a,b", id="join-method"),
        pytest.param("{{ [3, 1, 2]|sort|list }}", [1, 2, 3], id="sort"),
        pytest.param("{{ [[1], [2]]|sum(start=[]) }}", [1, 2], id="sum-of-lists"),
        pytest.param("{{ range(3)|sum }}", 3, id="sum"),
        pytest.param("{{ range(100000)|list|length }}", MAX_TEMPLATE_ITEMS, id="longest-range"),
        pytest.param("{% for x in range(3) %}{{ loop.index }}{% endfor %}", "123", id="loop-variable"),
        pytest.param("{% for x in [] %}a{% else %}empty{% endfor %}", "empty", id="for-else"),
        pytest.param("{% for x in range(3) if x > 0 %}{{ x }}{% endfor %}", "12", id="for-if"),
        pytest.param("{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(1) }}", "<1>", id="macro"),
        pytest.param("{{ 'ab'|center(6) }}", "  ab  ", id="center-filter"),
        pytest.param("{{ 'a\nb'|indent(2) }}", "a\n  b", id="indent"),
        pytest.param("{{ '%s-%s'|format(1, 2) }}", "1-2", id="format-filter"),
        pytest.param("{{ vars.get('s') }}", "ab", id="dict-get"),
    ],
)
def test_ordinary_templates_still_work(template: str, expected: object) -> None:
    assert render(template, context()) == expected


def test_compiling_evaluates_nothing() -> None:
    """No constant folding: the compiled code computes constants at run time, through the checks."""
    source = sandbox_source("{{ 9 ** 9 }} and {{ 'a' ~ 'b' }}")

    assert "387420489" not in source and "call_binop" in source
    assert check_syntax({"x": "{{ (9 ** (9 ** 7 * 6)) > 1 }}"}) == []


def sandbox_source(template: str) -> str:
    from resumeflow_core.templates import _ENV

    return str(_ENV.compile(_ENV.bound_tree(_ENV.parse(template)), raw=True))


def test_autoescape_takes_a_constant_only() -> None:
    problems = check_syntax({"x": "{% autoescape 'x'|center(10**9) %}a{% endautoescape %}"})

    assert problems and "constant" in problems[0][1]


def test_limit_problems_reports_constant_arithmetic_over_a_limit_only() -> None:
    config = {
        "values": {
            "pow": "{{ (9 ** (9 ** 7 * 6)) > 1 }}",
            "text": "x {{ 'a' * 10**8 }} y",
            "run_time": "{{ vars.nine ** 99999 }}",
            "fine": "{{ 2 ** 10 }}",
            "div": "{{ 1 / 0 }}",
        },
        "assertions": ["-(10 ** 9999) < 0"],
    }

    problems = limit_problems(config, expression_keys={"assertions"})

    assert [path for path, _ in problems] == ["values.pow", "values.text", "assertions[0]"]
    assert BITS in problems[0][1] and CHARS in problems[1][1]


def test_size_of_counts_shared_references_once_per_place() -> None:
    text = "x" * 100

    assert sandbox.size_of([text] * 10) >= 1000
    assert sandbox.size_of({"a": [1, 2]}) < 20
