"""One model instance read by a plain cursor: for the lookups every signed-in
page makes (its user, its disclosure defaults), where building an ORM query
costs several times running it. Values get the ORM's own converters, so
dates are dates on every database."""

from functools import cache

from django.db import connections, router


def plain_get(model, where: str, params: list, *, order: str = ""):
    """The first `model` row matching `where` (SQL with %s placeholders, in
    `order` if given), or None."""
    using = router.db_for_read(model)
    connection = connections[using]
    sql, names, converters = _select(model, using)
    sql = f"{sql} WHERE {where}" + (f" ORDER BY {order}" if order else "") + " LIMIT 1"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, expression, convert in converters:
        values[index] = convert(values[index], expression, connection)
    return model.from_db(using, names, values)


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
