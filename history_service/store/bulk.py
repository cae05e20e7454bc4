"""Executemany statements whose rows skip SQLAlchemy's per-row parameter machinery.

A batch of a 1,000-node run writes about 2,000 rows. For each row of an executemany, SQLAlchemy
builds a parameter dict through its generic compiled-parameter code, two to three times what
SQLite itself spends on the row. Here a statement is compiled once per dialect, and each row
becomes a tuple through the very bind processors SQLAlchemy would apply (the column types'
dialect implementations), so what is stored does not change; only the bookkeeping goes.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ClauseElement


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    """The bind parameters in the order the statement's positional placeholders take them."""
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]
    """(index in `names`, processor) for the parameters whose type converts values."""

    def __post_init__(self) -> None:
        # One C call picks a row's values in placeholder order.
        object.__setattr__(self, "_pick", operator.itemgetter(*self.names))

    def row(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        row = list(self._pick(values))  # type: ignore[attr-defined]
        for index, process in self.processors:
            row[index] = process(row[index])
        return tuple(row)  # SQLAlchemy takes a row of an executemany as a tuple or a dict only


class BulkStatement:
    """An INSERT or UPDATE run once per row of a batch, in one executemany."""

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._compiled: dict[str, _Compiled] = {}

    async def execute(self, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> int:
        """Execute for every row (a mapping of bind parameter names to values).

        Returns:
            The rows the statement changed in all, or -1 where the driver does not count an
            executemany (see `Dialect.supports_sane_multi_rowcount`).
        """
        if not rows:
            return 0
        connection = await session.connection()
        compiled = self._compile(connection.dialect)
        result = await connection.exec_driver_sql(compiled.sql, [compiled.row(r) for r in rows])
        return int(result.rowcount)

    def _compile(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is not None:
            return found
        compiled: Any = self._statement.compile(dialect=dialect)
        if not compiled.positional:
            raise NotImplementedError(f"{dialect.name}: only positional parameter styles are supported")
        names = tuple(compiled.positiontup)
        processors = []
        for index, name in enumerate(names):
            type_ = compiled.binds[name].type
            process = type_.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                processors.append((index, process))
        found = _Compiled(compiled.string, names, tuple(processors))
        self._compiled[dialect.name] = found
        return found
