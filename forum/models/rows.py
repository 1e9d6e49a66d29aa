"""Model instances read by a plain cursor: for the lookups every signed-in
page makes (its user, its disclosure defaults) and those of a thread page on
an empty cache (its topic and the topic's lists), where building an ORM query
costs several times running it. Values get the ORM's own converters, so
dates are dates on every database."""

from functools import cache

from django.db import connections, router


def plain_get(model, where: str, params: list, *, order: str = ""):
    """The first `model` row matching `where` (SQL with %s placeholders, in
    `order` if given), or None."""
    found = plain_rows(model, where, params, order=order, limit=1)
    return found[0] if found else None


def plain_rows(
    model, where: str, params: list, *, order: str = "", limit: int | None = None
) -> list:
    """The `model` rows matching `where`, in `order` if given."""
    using = router.db_for_read(model)
    connection = connections[using]
    sql, names, converters = _select(model, using)
    sql = f"{sql} WHERE {where}" + (f" ORDER BY {order}" if order else "")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    found = []
    for row in rows:
        values = list(row)
        for index, expression, convert in converters:
            values[index] = convert(values[index], expression, connection)
        found.append(model.from_db(using, names, values))
    return found


def set_prefetched(instance, name: str, rows: list) -> None:
    """Give `instance` `rows` as prefetch_related(name) would have: its
    `name.all()` then reads no query."""
    queryset = getattr(instance, name).all()
    queryset._result_cache, queryset._prefetch_done = rows, True
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    instance._prefetched_objects_cache[name] = queryset


@cache
def _select(model, using: str) -> tuple[str, list[str], list]:
    """The SELECT of every column, their names, and the converters (column
    index, expression, function) their values need."""
    connection = connections[using]
    quote = connection.ops.quote_name
    fields = model._meta.concrete_fields
    columns = ", ".join(quote(field.column) for field in fields)
    converters = []
    for index, field in enumerate(fields):
        expression = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(expression)
        for convert in found + field.get_db_converters(connection):
            converters.append((index, expression, convert))
    sql = f"SELECT {columns} FROM {quote(model._meta.db_table)}"
    return sql, [field.attname for field in fields], converters
