"""Templates and expressions: native values, undefined names, the sandbox, syntax checks, referenced names."""

from __future__ import annotations

import json
from typing import Any

import pytest

from resumeflow_core.templates import (
    UNSET,
    TemplateContext,
    TemplateError,
    check_syntax,
    evaluate,
    referenced_names,
    render,
)


@pytest.fixture
def context() -> TemplateContext:
    return TemplateContext(
        vars={"count": 3, "name": "ada", "user": {"id": 7, "tags": ["a", "b"]}},
        env={"base_url": "https://api.test"},
        secrets={"api_key": "k-123", "X-Token": "t"},
        nodes={"login": {"status_code": 200, "body": {"token": "abc", "items": [1, 2]}}},
        run={
            "id": "run-1",
            "workflow_id": "wf",
            "workflow_version": 2,
            "root_run_id": "run-1",
            "lineage_depth": 0,
        },
        prev={"status_code": 200},
    )


def failure(value: Any, context: TemplateContext, extra: dict[str, Any] | None = None) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        render(value, context, extra)
    return caught.value


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param("{{ vars.count }}", 3, id="int"),
        pytest.param(
            "  {{ vars.user }}\n",
            {"id": 7, "tags": ["a", "b"]},
            id="dict-with-whitespace",
        ),
        pytest.param("{{ vars.user.tags }}", ["a", "b"], id="list"),
        pytest.param("{{ vars.count > 2 }}", True, id="bool"),
        pytest.param("{{ none }}", None, id="none"),
        pytest.param("{{ {'a': {'b': 1}} }}", {"a": {"b": 1}}, id="dict-literal-with-braces"),
        pytest.param("{{- vars.name -}}", "ada", id="whitespace-control"),
        pytest.param("{{ vars.name }}\n", "ada", id="trailing-newline"),
    ],
)
def test_a_lone_expression_renders_to_its_native_value(
    context: TemplateContext, template: str, expected: Any
) -> None:
    assert render(template, context) == expected


def test_a_native_dict_is_a_plain_json_serialisable_dict(
    context: TemplateContext,
) -> None:
    value = render("{{ nodes.login }}", context)

    assert type(value) is dict and type(value["body"]) is dict
    assert json.loads(json.dumps(value)) == value


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param("hello {{ vars.name }}", "hello ada", id="text-around"),
        pytest.param("{{ vars.count }}{{ vars.count }}", "33", id="two-expressions"),
        pytest.param("{% if vars.count > 1 %}many{% endif %}", "many", id="statement"),
        pytest.param(
            "{{ env.base_url }}/users/{{ vars.user.id }}",
            "https://api.test/users/7",
            id="url",
        ),
    ],
)
def test_other_templates_render_to_strings(context: TemplateContext, template: str, expected: str) -> None:
    assert render(template, context) == expected


def test_plain_strings_are_returned_untouched(context: TemplateContext) -> None:
    text = "no templates here, {single} braces and {# a comment #}"

    assert render(text, context) is text


def test_render_walks_dicts_and_lists_but_leaves_keys_alone(
    context: TemplateContext,
) -> None:
    config = {
        "{{ vars.name }}": ["{{ vars.count }}", {"deep": "x{{ vars.count }}"}, 5, None],
        "n": 1.5,
    }

    assert render(config, context) == {
        "{{ vars.name }}": [3, {"deep": "x3"}, 5, None],
        "n": 1.5,
    }


def test_every_scope_name_is_available(context: TemplateContext) -> None:
    template = (
        "{{ vars.name }} {{ env.base_url }} {{ secrets.api_key }} {{ nodes.login.status_code }} "
        "{{ prev.status_code }} {{ run.workflow_version }}"
    )

    assert render(template, context) == "ada https://api.test k-123 200 200 2"


def test_dict_keys_win_over_dict_methods(context: TemplateContext) -> None:
    assert render("{{ nodes.login.body.items }}", context) == [1, 2]
    assert render("{{ vars.user.keys() | list }}", context) == ["id", "tags"]


@pytest.mark.parametrize(
    ("template", "named"),
    [
        pytest.param("{{ vars.token }}", "'vars.token' is undefined", id="vars"),
        pytest.param("Bearer {{ foo }}", "'foo' is undefined", id="top-level"),
        pytest.param(
            "{{ nodes.login.body.token2 }}",
            "'nodes.login.body.token2' is undefined",
            id="deep",
        ),
        pytest.param("{{ nodes.signup.body }}", "'nodes.signup' is undefined", id="unknown-node"),
        pytest.param("{{ secrets['Y-Token'] }}", "\"secrets['Y-Token']\" is undefined", id="item"),
        pytest.param(
            "{{ vars.token | upper }}",
            "'vars.token' is undefined",
            id="through-a-filter",
        ),
        pytest.param("{{ [vars.token] }}", "'vars.token' is undefined", id="inside-a-native-list"),
    ],
)
def test_an_undefined_name_raises_an_error_naming_it(
    context: TemplateContext, template: str, named: str
) -> None:
    assert failure(template, context).message == named


def test_prev_is_undefined_with_a_reason_when_there_is_no_single_parent(
    context: TemplateContext,
) -> None:
    error = failure("{{ prev.body }}", context.with_prev(UNSET))

    assert error.message.startswith("'prev' is undefined")


def test_undefined_names_may_be_tested_and_defaulted(context: TemplateContext) -> None:
    assert render("{{ vars.token is defined }}", context) is False
    assert render("{{ vars.token | default('none') }}", context) == "none"


def test_the_error_says_where_in_the_config_the_template_sits(
    context: TemplateContext,
) -> None:
    error = failure(
        {"headers": {"Authorization": "Bearer {{ vars.token }}"}, "list": ["{{ x }}"]},
        context,
    )

    assert error.path == "headers.Authorization"
    assert str(error) == "headers.Authorization: 'vars.token' is undefined"


def test_a_list_index_and_an_odd_key_are_written_as_subscripts(
    context: TemplateContext,
) -> None:
    error = failure({"a": [{"x-y": ["ok", "{{ nope }}"]}]}, context)

    assert error.path == "a[0]['x-y'][1]"


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("{{ ''.__class__.__mro__ }}", id="dunder"),
        pytest.param("{{ vars.update({'x': 1}) }}", id="mutating-run-state"),
        pytest.param("{{ vars.user.tags.append(3) }}", id="mutating-a-list"),
    ],
)
def test_the_sandbox_refuses_unsafe_access(context: TemplateContext, template: str) -> None:
    assert "not allowed" in failure(template, context).message
    assert context.vars["user"]["tags"] == ["a", "b"]


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("{{ vars.name ", id="unclosed"),
        pytest.param("{% if %}", id="empty-if"),
        pytest.param("{{ 1 + }}", id="dangling-operator"),
    ],
)
def test_a_syntax_error_raises_template_error(context: TemplateContext, template: str) -> None:
    assert failure(template, context).message.startswith("template syntax error")


def test_a_failing_expression_raises_template_error() -> None:
    assert failure("{{ 1 / 0 }}", TemplateContext()).message == "ZeroDivisionError: division by zero"


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("{{ vars[secrets.api_key] }}", id="undefined-key-from-a-secret"),
        pytest.param("{{ vars[secrets.api_key[:3]] }}", id="undefined-key-from-part-of-a-secret"),
        pytest.param("{{ secrets.api_key | int + none }}", id="exception-text"),
        pytest.param("{{ vars.name ~ secrets.api_key | attr(secrets.api_key) }}", id="attr-filter"),
    ],
)
def test_in_a_run_with_secrets_an_evaluation_error_names_the_template_not_the_values(
    context: TemplateContext, template: str
) -> None:
    error = failure({"headers": {"X": template}}, context)

    assert "k-1" not in error.message
    assert error.message.endswith(f"in template {template!r} (details withheld: the run has secrets)")
    assert str(error).startswith("headers.X: ")


def test_in_a_run_with_secrets_an_undefined_name_the_template_spells_is_still_named(
    context: TemplateContext,
) -> None:
    assert failure("{{ secrets['Y-Token'] }}", context).message == "\"secrets['Y-Token']\" is undefined"
    assert failure("{{ vars.nope }}", context).message == "'vars.nope' is undefined"


def test_extra_names_are_in_scope_and_named_when_missing(
    context: TemplateContext,
) -> None:
    extra = {"response": {"body": {"id": 9}}}

    assert render("{{ response.body.id }}", context, extra) == 9
    assert failure("{{ response.body.name }}", context, extra).message == "'response.body.name' is undefined"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("vars.count > 1", True, id="bare"),
        pytest.param("{{ vars.count > 5 }}", False, id="templated"),
        pytest.param("  vars.user.id  ", 7, id="bare-with-whitespace"),
        pytest.param("nodes.login.body", {"token": "abc", "items": [1, 2]}, id="native"),
        pytest.param(True, True, id="not-a-string"),
    ],
)
def test_evaluate_returns_the_native_value(context: TemplateContext, expression: Any, expected: Any) -> None:
    assert evaluate(expression, context) == expected


def test_evaluate_names_an_undefined_name(context: TemplateContext) -> None:
    with pytest.raises(TemplateError, match=r"'vars\.missing' is undefined"):
        evaluate("vars.missing == 1", context)


def test_evaluate_refuses_a_template_with_text(context: TemplateContext) -> None:
    with pytest.raises(TemplateError, match="expected one expression"):
        evaluate("{{ vars.count }} > 1", context)


def test_evaluate_refuses_trailing_text(context: TemplateContext) -> None:
    with pytest.raises(TemplateError, match="syntax error"):
        evaluate("vars.count > 1 vars", context)


def test_nodes_is_live_and_shared_with_derived_contexts() -> None:
    context = TemplateContext(nodes={})
    derived = context.with_prev({"x": 1})

    context.nodes["a"] = {"out": 1}

    assert render("{{ nodes.a.out }} {{ prev.x }}", derived) == "1 1"
    assert derived.nodes is context.nodes


def test_check_syntax_lists_every_broken_template_with_its_path() -> None:
    config = {
        "url": "{{ env.base",
        "headers": {"A": "{% if %}", "B": "fine {{ x }}"},
        "list": ["ok", "{{ ) }}"],
    }

    problems = check_syntax(config)

    assert [path for path, _ in problems] == ["url", "headers.A", "list[1]"]
    assert all(message.startswith("template syntax error") for _, message in problems)


def test_check_syntax_of_expressions() -> None:
    problems = check_syntax(
        {"assertions": ["vars.a == 1", "vars.a ==", "{{ a }} and text"]},
        expressions=True,
    )

    assert [path for path, _ in problems] == ["assertions[1]", "assertions[2]"]


def test_referenced_names_finds_attribute_and_item_lookups_of_a_scope() -> None:
    config = {
        "headers": {
            "Authorization": "Bearer {{ secrets.api_key }}",
            "X": "{{ secrets['X-Token'] }}",
        },
        "body": "{{ vars.secret_name }} {{ secrets[vars.dynamic] }} secrets.not_a_template",
        "extract": {"id": "response.body.id if secrets.flag else 0"},
        "broken": "{{ secrets.broken ",
    }

    assert referenced_names(config, "secrets", expression_keys={"extract"}) == {
        "api_key",
        "X-Token",
        "flag",
    }
    assert referenced_names(config, "vars") == {"secret_name", "dynamic"}


def test_referenced_names_reads_the_name_a_get_call_asks_for() -> None:
    config = {"a": "{{ secrets.get('gamma') }}", "b": "{{ secrets.get('delta', 'fallback') }}"}

    assert referenced_names(config, "secrets") == {"gamma", "delta"}
