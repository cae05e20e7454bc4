"""Hypothesis strategies for resume chains: random deterministic DAGs and per-round failure patterns."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from resumeflow_core.nodes.registry import default_registry
from resumeflow_core.status import ResumeMode
from resumeflow_core.validation import validate_workflow
from resumeflow_core.workflow import Edge, Node, Workflow

MIN_NODES = 2
MAX_NODES = 15
MAX_PARENTS = 3
MODULUS = 1_000_003
"""Keeps computed values small whatever the depth of the graph."""


@dataclass(frozen=True)
class Round:
    """One run of a chain: the full run first, then one resume per round."""

    mode: ResumeMode
    """How this round's resume picks its start nodes (unused by the full run)."""
    pick: int | None
    """SINGLE only: start explicitly from the failed node at this index (modulo), else the default."""
    failing: frozenset[str]
    """The nodes told (through the run's environment) to fail in this run."""


@dataclass(frozen=True)
class Scenario:
    """A workflow and the failures a chain of its runs meets, round by round."""

    workflow: Workflow
    seed: int
    """The root run's input `seed`, which the first nodes compute from."""
    rounds: tuple[Round, ...]
    """Rounds with injected failures; every later round injects none."""

    def round(self, index: int) -> Round:
        """Round `index`; past the drawn rounds, no failures and the drawn modes in turn."""
        if index < len(self.rounds):
            return self.rounds[index]
        return Round(self.rounds[index % len(self.rounds)].mode, None, frozenset())


def _term(parent: str, kinds: dict[str, str], position: int) -> str:
    """An expression for one parent's contribution, read from `vars` or from `nodes`, alternately."""
    if parent == "start":
        return "(vars.seed|default(0))"
    if kinds[parent] == "condition":
        return f"(1 if (nodes.get('{parent}') or {{}}).get('value') else 2)"
    if position % 2 == 0:
        return f"(vars.v_{parent}|default(0))"
    return f"((nodes.get('{parent}') or {{}}).get('v_{parent}', 0))"


def _expression(node_id: str, parents: list[str], kinds: dict[str, str], constant: int) -> str:
    terms = " + ".join(_term(parent, kinds, index) for index, parent in enumerate(parents))
    return f"(({terms}) * 31 + {constant}) % {MODULUS}"


@st.composite
def workflows(draw: st.DrawFn) -> Workflow:
    """start → 2..15 nodes → end; edges only from lower to higher index, every node reachable.

    Nodes are `set` nodes writing `v_<id>` computed from their parents (so deterministic), and
    now and then a `condition` choosing a branch from its parents' values.
    """
    count = draw(st.integers(MIN_NODES, MAX_NODES))
    ids = [f"n{index:02d}" for index in range(count)]
    kinds = {node_id: "condition" if draw(st.integers(0, 4)) == 0 else "set" for node_id in ids}
    parents: dict[str, list[str]] = {}
    for index, node_id in enumerate(ids):
        candidates = ["start", *ids[:index]]
        chosen = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=MAX_PARENTS, unique=True))
        parents[node_id] = sorted(chosen, key=candidates.index)

    def branch(source: str) -> str:
        return draw(st.sampled_from(["true", "false"])) if kinds.get(source) == "condition" else ""

    edges = [Edge(parent, node_id, branch(parent)) for node_id in ids for parent in parents[node_id]]
    with_children = {edge.source for edge in edges}
    edges += [Edge(node_id, "end", branch(node_id)) for node_id in ids if node_id not in with_children]
    nodes = [Node("start", "start")]
    for index, node_id in enumerate(ids):
        expression = _expression(node_id, parents[node_id], kinds, index + 3)
        if kinds[node_id] == "condition":
            nodes.append(Node(node_id, "condition", config={"expression": f"{expression} % 3 != 0"}))
        else:
            nodes.append(Node(node_id, "set", config={"values": {f"v_{node_id}": f"{{{{ {expression} }}}}"}}))
    nodes.append(Node("end", "end"))
    workflow = Workflow("chain", nodes=tuple(nodes), edges=tuple(edges), version=1)
    validate_workflow(workflow, default_registry())
    return workflow


def failures(workflow: Workflow, *, min_size: int = 0) -> st.SearchStrategy[frozenset[str]]:
    """Sets of the workflow's failable nodes (not start, not end)."""
    failable = [node.id for node in workflow.nodes if node.type not in ("start", "end")]
    return st.frozensets(st.sampled_from(failable), min_size=min_size, max_size=4)


def rounds(workflow: Workflow) -> st.SearchStrategy[Round]:
    # SINGLE twice as likely: it is the mode that carries failures and blocks joins.
    return st.builds(
        Round,
        mode=st.sampled_from([ResumeMode.SINGLE, ResumeMode.SINGLE, ResumeMode.ALL_FAILED]),
        pick=st.none() | st.integers(0, MAX_NODES),
        failing=failures(workflow, min_size=1),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A random workflow whose full run fails somewhere, and up to three resumes that fail too."""
    workflow = draw(workflows())
    drawn = draw(st.lists(rounds(workflow), min_size=1, max_size=4))
    return Scenario(workflow, draw(st.integers(0, 1000)), tuple(drawn))
