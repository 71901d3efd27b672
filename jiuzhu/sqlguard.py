"""Guarded ad-hoc SQL for analysts (AN-4): parse, refuse, rewrite to the jurisdiction, bound, run.

A SELECT-only check is not enough: ``SELECT * FROM read_csv('/etc/passwd')`` is a plain SELECT.
So the query is parsed with sqlglot (DuckDB dialect) and refused unless it is exactly one
read-only query over allow-listed tables, calling no function that reaches files, settings or
the catalogue. Every allowed table reference is then replaced, in the AST, by
``(SELECT * FROM t WHERE region_col LIKE '<prefix>%') AS alias`` so no path through joins,
unions, CTEs or subqueries sees rows outside the user's jurisdiction, and a row limit is put on
the outermost query. What runs is the SQL sqlglot generates from that AST, never the text the
user typed. ``run_guarded`` adds the second wall: an in-memory DuckDB holding only the allowed
Arrow tables, with external access off, configuration locked, and a time limit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.optimizer.scope import traverse_scope

from jiuzhu import regions

DIALECT = "duckdb"
MAX_ROWS = 10_000
MAX_SQL_CHARS = 20_000
DEFAULT_TIMEOUT_S = 30.0

# sqlglot logs unsupported statements together with their text, and a query may hold names or
# ID numbers typed as literals: keep its warnings out of the logs.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

# Functions that read files or URLs, expose settings, the environment or the catalogue, or run SQL
# given as a string. Names are compared in lower case.
FORBIDDEN_FUNCTIONS = frozenset(
    {
        "glob",
        "query",
        "query_table",
        "getenv",
        "current_setting",
        "getvariable",
        "set_variable",
        "sniff_csv",
        "which_secret",
        "sql_auto_complete",
        "checkpoint",
        "force_checkpoint",
        "enable_logging",
        "disable_logging",
        "truncate_duckdb_logs",
        "enable_profiling",
        "disable_profiling",
        "load_extension",
        "install_extension",
        "current_schemas",
        "current_database",
        "current_catalog",
        "json_execute_serialized_sql",
        "json_deserialize_sql",
        "http_get",
        "http_post",
        "test_all_types",
    }
)
FORBIDDEN_PREFIXES = (
    "read_",
    "duckdb_",
    "pragma_",
    "parquet_",
    "iceberg_",
    "delta_",
    "sqlite_",
    "postgres_",
    "mysql_",
    "arrow_",
    "python_",
    "sniff_",
    "http",
    "json_execute",
    "pg_",
    "has_",
)
FORBIDDEN_SUFFIXES = ("_scan", "_metadata", "_schema")
# Table functions that only generate values and reach no data.
SAFE_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
# Names of system catalogues and views: never a table or CTE name in an analyst query.
SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "system", "temp"})
RESERVED_NAME_PREFIXES = ("duckdb_", "sqlite_", "pg_", "pragma_", "information_schema")

_STATEMENT_LABELS = {
    "Insert": "插入(INSERT)",
    "Update": "更新(UPDATE)",
    "Delete": "删除(DELETE)",
    "Merge": "合并(MERGE)",
    "Create": "建表/建视图(CREATE)",
    "Drop": "删除对象(DROP)",
    "Alter": "修改结构(ALTER)",
    "TruncateTable": "清空表(TRUNCATE)",
    "Pragma": "PRAGMA",
    "Set": "修改设置(SET)",
    "Copy": "复制数据(COPY)",
    "Attach": "挂载数据库(ATTACH)",
    "Detach": "卸载数据库(DETACH)",
    "Install": "安装扩展(INSTALL)",
    "Use": "切换数据库(USE)",
    "Describe": "查看结构(DESCRIBE)",
    "Summarize": "汇总表(SUMMARIZE)",
    "Show": "SHOW",
    "Transaction": "事务(BEGIN)",
    "Commit": "事务(COMMIT)",
    "Rollback": "事务(ROLLBACK)",
    "Into": "SELECT INTO",
    "LoadData": "导入数据(LOAD DATA)",
    "Refresh": "REFRESH",
    "Cache": "CACHE",
    "Uncache": "UNCACHE",
    "Grant": "授权(GRANT)",
    "Revoke": "收回权限(REVOKE)",
    "Analyze": "ANALYZE",
    "Export": "导出(EXPORT)",
    "Kill": "KILL",
    "Comment": "COMMENT",
    "Declare": "DECLARE",
    "Values": "VALUES",
    "Command": "命令",
}
_FORBIDDEN_NODE_TYPES = tuple(
    getattr(exp, name) for name in _STATEMENT_LABELS if name != "Values" and hasattr(exp, name)
)
_COMMAND_WORDS = frozenset(
    {
        "EXPORT",
        "IMPORT",
        "LOAD",
        "INSTALL",
        "CALL",
        "ATTACH",
        "DETACH",
        "COPY",
        "PRAGMA",
        "SET",
        "RESET",
        "CHECKPOINT",
        "VACUUM",
        "CREATE",
        "DROP",
        "INSERT",
        "UPDATE",
        "DELETE",
        "ALTER",
        "USE",
        "UPDATE_EXTENSIONS",
        "FORCE",
        "TRUNCATE",
        "GRANT",
        "REVOKE",
    }
)


class QueryRefused(Exception):
    def __init__(self, code: str, message_zh: str):
        super().__init__(f"{code}: {message_zh}")
        self.code = code
        self.message_zh = message_zh


def _statement_label(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return f"{str(node.this).upper()} 命令"
    return _STATEMENT_LABELS.get(type(node).__name__, type(node).__name__.upper())


def _func_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _is_forbidden_function(name: str) -> bool:
    return (
        name in FORBIDDEN_FUNCTIONS
        or name.startswith(FORBIDDEN_PREFIXES)
        or name.endswith(FORBIDDEN_SUFFIXES)
    )


def _parse_one(sql: str) -> exp.Expression:
    if not sql or not sql.strip():
        raise QueryRefused("SQL_EMPTY", "查询语句为空")
    if len(sql) > MAX_SQL_CHARS:
        raise QueryRefused("SQL_TOO_LONG", f"查询语句过长(超过{MAX_SQL_CHARS}个字符)")
    try:
        parsed = sqlglot.parse(sql, read=DIALECT)
    except (ParseError, TokenError) as exc:
        first = _first_word(sql)
        if first in _COMMAND_WORDS:
            raise QueryRefused("NOT_SELECT", f"只允许查询(SELECT)语句,不允许执行:{first} 语句") from exc
        raise QueryRefused("SQL_SYNTAX", "查询语句无法解析,请检查语法") from exc
    statements = [s for s in parsed if s is not None]
    if len(statements) > 1:
        raise QueryRefused(
            "MULTIPLE_STATEMENTS", f"一次只允许一条语句,收到{len(statements)}条(含注释隐藏的语句)"
        )
    if not statements:
        raise QueryRefused("SQL_EMPTY", "查询语句为空")
    root = statements[0]
    while isinstance(root, exp.Subquery) and not root.alias:
        root = root.this
    return root


def _first_word(sql: str) -> str:
    try:
        tokens = sqlglot.tokenize(sql, read=DIALECT)
    except SqlglotError:
        return ""
    return tokens[0].text.upper() if tokens else ""


def _check_statement(root: exp.Expression, sql: str) -> None:
    if not isinstance(root, exp.Select | exp.SetOperation):
        known = isinstance(root, exp.Command) or type(root).__name__ in _STATEMENT_LABELS
        label = _statement_label(root) if known else f"{_first_word(sql)} 语句"
        raise QueryRefused("NOT_SELECT", f"只允许查询(SELECT)语句,不允许执行:{label}")
    for node in root.walk():
        if isinstance(node, _FORBIDDEN_NODE_TYPES):
            raise QueryRefused("FORBIDDEN_STATEMENT", f"查询中不允许嵌入:{_statement_label(node)}")
        if isinstance(node, exp.Func):
            name = _func_name(node)
            if _is_forbidden_function(name):
                raise QueryRefused(
                    "FORBIDDEN_FUNCTION", f"不允许使用函数 {name}(可读取文件、设置、环境或系统目录)"
                )


def _check_ctes(root: exp.Expression, allowed: Mapping[str, str]) -> None:
    for cte in root.find_all(exp.CTE):
        name = cte.alias_or_name.lower()
        if name in allowed:
            raise QueryRefused(
                "CTE_SHADOWS_TABLE", f"公用表表达式(WITH)的名称 {name} 与数据表同名,可能绕过辖区限制"
            )
        if name.startswith(RESERVED_NAME_PREFIXES) or name in SYSTEM_SCHEMAS:
            raise QueryRefused("RESERVED_NAME", f"公用表表达式(WITH)不得使用系统保留名称 {name}")


def _base_tables(root: exp.Expression) -> list[exp.Table]:
    """Table nodes that name stored tables (not CTEs, not table functions), as scoped by sqlglot."""
    try:
        scopes = traverse_scope(root)
    except SqlglotError as exc:
        raise QueryRefused("SQL_UNSUPPORTED", "查询结构过于复杂,无法判定其引用的数据表") from exc
    classified: set[int] = set()
    base: list[exp.Table] = []
    for scope in scopes:
        cte_names = {name.lower() for name in scope.cte_sources}
        for table in scope.tables:
            if id(table) in classified:
                continue
            classified.add(id(table))
            if isinstance(table.this, exp.Func):
                continue  # a table function, vetted by _check_table_functions
            qualified = table.args.get("db") or table.args.get("catalog")
            if table.name.lower() in cte_names and not qualified:
                continue
            base.append(table)
    for table in root.find_all(exp.Table):
        if isinstance(table.this, exp.Func) or id(table) in classified:
            continue
        # Fail closed: a table reference sqlglot did not place in any scope is not run.
        raise QueryRefused("UNRESOLVED_TABLE", f"无法判定表引用 {table.sql(dialect=DIALECT)} 的来源")
    return base


def _check_table_functions(root: exp.Expression) -> None:
    for table in root.find_all(exp.Table):
        if isinstance(table.this, exp.Func):
            name = _func_name(table.this)
            if name not in SAFE_TABLE_FUNCTIONS:
                raise QueryRefused("TABLE_FUNCTION", f"不允许在 FROM 中使用表函数 {name}")


_TABLE_ARGS_KEPT = frozenset({"this", "db", "catalog", "alias"})
# Clauses sqlglot may hang on a table node (DuckDB's FROM-first syntax puts the joins there) and
# that mean the same on the scoped subquery: they move across with the alias.
_TABLE_ARGS_MOVED = ("joins", "laterals", "pivots", "sample")


def _check_base_table(table: exp.Table, allowed: Mapping[str, str]) -> str:
    name = table.name.lower()
    schema = str(table.args.get("db") or "").lower()
    catalog = str(table.args.get("catalog") or "").lower()
    if schema or catalog:
        full = ".".join(p for p in (catalog, schema, name) if p)
        if schema in SYSTEM_SCHEMAS or catalog in SYSTEM_SCHEMAS:
            raise QueryRefused("SYSTEM_CATALOG", f"不允许访问系统目录 {full}")
        raise QueryRefused("QUALIFIED_TABLE", f"不允许跨库或跨模式引用 {full},请直接使用表名")
    if any(ch in name for ch in "/\\:") or "." in name:
        raise QueryRefused("FILE_REFERENCE", f"不允许直接读取文件 {table.name}")
    if name.startswith(RESERVED_NAME_PREFIXES):
        raise QueryRefused("SYSTEM_CATALOG", f"不允许访问系统视图 {name}")
    if name not in allowed:
        raise QueryRefused("TABLE_NOT_ALLOWED", f"不允许查询表 {name}(不在您可查询的数据表清单中)")
    extra = sorted(
        k for k, v in table.args.items() if v and k not in _TABLE_ARGS_KEPT | set(_TABLE_ARGS_MOVED)
    )
    if extra:
        raise QueryRefused("TABLE_MODIFIER", f"数据表 {name} 上不支持 {', '.join(extra)} 子句,请改写查询")
    return name


def jurisdiction_prefix(jurisdiction: str) -> str:
    code = regions.normalise_code(jurisdiction)
    return code[: regions.LEVEL_DIGITS[regions.level_of_code(code)]]


def _scoped(table: exp.Table, name: str, region_column: str, prefix: str) -> exp.Subquery:
    inner = exp.select(exp.Star()).from_(exp.Table(this=exp.to_identifier(name, quoted=True)))
    predicate = exp.Like(
        this=exp.column(region_column, quoted=True), expression=exp.Literal.string(prefix + "%")
    )
    inner = inner.where(predicate)
    alias = table.args.get("alias")
    alias = alias.copy() if alias is not None else exp.TableAlias(this=exp.to_identifier(table.name))
    scoped = exp.Subquery(this=inner, alias=alias)
    for key in _TABLE_ARGS_MOVED:
        value = table.args.get(key)
        if value:
            table.set(key, None)
            scoped.set(key, value)  # moved, not copied: joined tables still get scoped themselves
    return scoped


def _cap_limit(root: exp.Expression, cap: int) -> None:
    current = root.args.get("limit")
    if current is None:
        root.set("limit", exp.Limit(expression=exp.Literal.number(cap)))
        return
    options = current.args.get("limit_options")
    value = current.args.get("count") if isinstance(current, exp.Fetch) else current.args.get("expression")
    if (options is not None and (options.args.get("percent") or options.args.get("with_ties"))) or not (
        isinstance(value, exp.Literal) and not value.is_string and str(value.this).isdigit()
    ):
        raise QueryRefused("LIMIT_UNSUPPORTED", "LIMIT 只能是非负整数")
    root.set("limit", exp.Limit(expression=exp.Literal.number(min(int(value.this), cap))))


def guard(
    sql: str,
    region_columns: Mapping[str, str],
    jurisdiction: str,
    limit: int | None = None,
    max_rows: int = MAX_ROWS,
) -> str:
    """The rewritten, jurisdiction-bound SQL for ``sql``, or ``QueryRefused``.

    ``region_columns`` is the allow-list: table name -> its region-code column.
    """
    allowed = {name.lower(): column for name, column in region_columns.items()}
    try:
        prefix = jurisdiction_prefix(jurisdiction)
    except regions.UnknownRegion as exc:
        raise QueryRefused("NO_JURISDICTION", f"账户未配置有效的管辖区域:{jurisdiction}") from exc
    cap = max_rows if limit is None else min(int(limit), max_rows)
    if cap < 1:
        raise QueryRefused("LIMIT_UNSUPPORTED", "返回行数上限必须为正整数")
    root = _parse_one(sql)
    _check_statement(root, sql)
    _check_table_functions(root)
    _check_ctes(root, allowed)
    for table in _base_tables(root):
        name = _check_base_table(table, allowed)
        table.replace(_scoped(table, name, allowed[name], prefix))
    _cap_limit(root, cap)
    # Comments are dropped: the query that runs is exactly what the AST says.
    return root.sql(dialect=DIALECT, comments=False)


def _connect(tables: Mapping[str, object], allowed: Mapping[str, str]):
    import duckdb  # noqa: PLC0415 (only the query screen needs the engine)

    con = duckdb.connect(":memory:")
    # A Python replacement scan would read any DataFrame/Arrow variable visible to the caller by
    # its name; only the tables registered below may be reachable.
    con.execute("SET python_enable_replacements = false")
    for name, table in tables.items():
        if name.lower() in allowed:
            con.register(name.lower(), table)
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def run_guarded(
    sql: str,
    tables: Mapping[str, object],
    region_columns: Mapping[str, str],
    jurisdiction: str,
    limit: int | None = None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_rows: int = MAX_ROWS,
):
    """Run an analyst query over in-memory Arrow tables/datasets; returns a ``pyarrow.Table``."""
    import duckdb  # noqa: PLC0415

    rewritten = guard(sql, region_columns, jurisdiction, limit, max_rows)
    allowed = {name.lower(): column for name, column in region_columns.items()}
    con = _connect(tables, allowed)
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        result = con.sql(rewritten).to_arrow_table()
    except duckdb.InterruptException as exc:
        raise QueryRefused("TIMEOUT", f"查询超过{timeout_s:g}秒,已中止") from exc
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise QueryRefused("EXECUTION_ERROR", f"查询执行出错:{first_line}") from exc
    finally:
        timer.cancel()
        con.close()
    cap = max_rows if limit is None else min(int(limit), max_rows)
    return result.slice(0, cap)
