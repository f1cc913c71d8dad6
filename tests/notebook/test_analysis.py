"""Static analysis of %%task cells: inputs, outputs, mutations, normalised code, cell order."""

from __future__ import annotations

import textwrap
from dataclasses import replace

import pytest

from orchestrate_nb.errors import OrchestrateError
from orchestrate_nb.notebook.analysis import (
    CellAnalysis,
    CellCycleError,
    CellSyntaxError,
    DuplicateCellNameError,
    OverrideError,
    analyse_cell,
    dependency_edges,
    dependency_order,
    downstream_of,
    parse_override,
)


def analyse(source: str) -> CellAnalysis:
    return analyse_cell(textwrap.dedent(source))


def io_of(source: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    result = analyse(source)
    return result.inputs, result.outputs


# -- binding forms ------------------------------------------------------------------------

BINDING_FORMS = [
    pytest.param("a = 1", (), ("a",), id="assignment"),
    pytest.param("a = b = 0", (), ("a", "b"), id="chained-assignment"),
    pytest.param("a, (b, c) = f()", ("f",), ("a", "b", "c"), id="tuple-unpacking"),
    pytest.param("[a, b] = pair", ("pair",), ("a", "b"), id="list-unpacking"),
    pytest.param("first, *rest = items", ("items",), ("first", "rest"), id="starred-unpacking"),
    pytest.param("n: int = 3", (), ("n",), id="annotated-with-value"),
    pytest.param("n: int", (), (), id="annotation-alone-binds-nothing"),
    pytest.param("total += 1", ("total",), ("total",), id="augmented-assignment"),
    pytest.param("import os.path", (), ("os",), id="import-dotted"),
    pytest.param("import numpy.linalg as la", (), ("la",), id="import-as"),
    pytest.param("from m import x as y, z", (), ("y", "z"), id="from-import"),
    pytest.param("def f(a):\n    return a", (), ("f",), id="def"),
    pytest.param("async def f():\n    pass", (), ("f",), id="async-def"),
    pytest.param("class A:\n    pass", (), ("A",), id="class"),
    pytest.param("for i, x in enumerate(xs):\n    pass", ("xs",), ("i", "x"), id="for-targets"),
    pytest.param("async for x in g():\n    y = x", ("g",), ("x", "y"), id="async-for"),
    pytest.param("with open(p) as (fh, other):\n    pass", ("p",), ("fh", "other"),
                 id="with-targets"),
    pytest.param("async with lock() as held:\n    pass", ("lock",), ("held",), id="async-with"),
    pytest.param("if (n := len(xs)) > 2:\n    pass", ("xs",), ("n",), id="walrus"),
    pytest.param("ys = [y for x in xs if (y := f(x))]", ("xs", "f"), ("y", "ys"),
                 id="walrus-in-comprehension-binds-in-the-cell"),
    pytest.param("def f():\n    global g\n    g = 1", (), ("f", "g"),
                 id="global-assigned-in-a-function"),
    pytest.param("if c:\n    a = 1\nelif d:\n    b = 2\nelse:\n    e = 3", ("c", "d"),
                 ("a", "b", "e"), id="if-branches"),
    pytest.param("while go():\n    w = 1", ("go",), ("w",), id="while-body"),
    pytest.param("try:\n    t = 1\nexcept E:\n    u = 2\nelse:\n    v = 3\nfinally:\n    w = 4",
                 ("E",), ("t", "u", "v", "w"), id="try-clauses"),
]


@pytest.mark.parametrize(("source", "inputs", "outputs"), BINDING_FORMS)
def test_each_binding_form_makes_its_names_outputs(source: str, inputs: tuple[str, ...],
                                                   outputs: tuple[str, ...]) -> None:
    assert io_of(source) == (inputs, outputs)


def test_match_capture_patterns_are_outputs_and_class_patterns_inputs() -> None:
    inputs, outputs = io_of("""
        match command:
            case Point(x=px, y=py):
                pass
            case [first, *others]:
                pass
            case {"k": value, **extra}:
                pass
            case Colour.RED | other:
                pass
    """)
    assert inputs == ("command", "Point", "Colour")
    assert outputs == ("px", "py", "first", "others", "value", "extra", "other")


def test_an_except_name_is_not_an_output_because_python_unbinds_it() -> None:
    inputs, outputs = io_of("""
        try:
            risky()
        except ValueError as error:
            message = str(error)
    """)
    assert inputs == ("risky",)
    assert outputs == ("message",)


def test_a_star_import_is_flagged_and_its_module_recorded() -> None:
    result = analyse("from math import *\nprint(pi)")
    assert result.star_import
    assert result.modules == ("math",)
    assert result.inputs == ("pi",)


def test_modules_are_the_top_level_names_of_every_import_in_the_cell() -> None:
    result = analyse("""
        import os.path, numpy as np
        from pandas.api import types
        from . import sibling
        def f():
            import scipy.stats
    """)
    assert result.modules == ("os", "numpy", "pandas", "scipy")


def test_del_removes_an_output_and_is_recorded_as_deleted() -> None:
    result = analyse("tmp = load()\nkeep = tmp + 1\ndel tmp, old")
    assert result.outputs == ("keep",)
    assert result.deleted == ("tmp", "old")
    assert result.inputs == ("load",)


def test_a_name_bound_again_after_del_is_an_output_not_deleted() -> None:
    result = analyse("x = 1\ndel x\nx = 2")
    assert result.outputs == ("x",)
    assert result.deleted == ()


def test_a_conditional_del_keeps_the_output_and_records_the_deletion() -> None:
    result = analyse("x = 1\nif c:\n    del x")
    assert result.outputs == ("x",)
    assert result.deleted == ("x",)


# -- order and definite assignment --------------------------------------------------------

ORDER = [
    pytest.param("x = 1\nprint(x)", (), ("x",), id="assigned-then-read-is-own"),
    pytest.param("print(x)\nx = 1", ("x",), ("x",), id="read-then-assigned-is-both"),
    pytest.param("x = x + 1", ("x",), ("x",), id="self-update-is-both"),
    pytest.param("if c:\n    x = 1\nprint(x)", ("c", "x"), ("x",),
                 id="assignment-in-if-is-not-definite-after-it"),
    pytest.param("if c:\n    x = 1\nelse:\n    x = 2\nprint(x)", ("c",), ("x",),
                 id="assignment-in-every-branch-is-definite"),
    pytest.param("if c:\n    x = 1\nelse:\n    raise ValueError\nprint(x)", ("c",), ("x",),
                 id="a-branch-that-raises-does-not-count"),
    pytest.param("if c:\n    x = 1\nelse:\n    print(x)", ("c", "x"), ("x",),
                 id="read-in-a-sibling-branch-is-an-input"),
    pytest.param("for i in r:\n    x = i\nprint(x, i)", ("r", "x", "i"), ("i", "x"),
                 id="loop-bindings-are-not-definite-after-the-loop"),
    pytest.param("try:\n    import numpy as np\nexcept ImportError:\n    np = None\nnp", (),
                 ("np",), id="try-import-fallback-is-own"),
    pytest.param("try:\n    y = f()\nexcept E:\n    print(y)", ("f", "E", "y"), ("y",),
                 id="try-body-binding-is-not-definite-in-the-handler"),
    pytest.param("with open(p) as fh:\n    text = fh.read()\nwords = text.split()", ("p",),
                 ("fh", "text", "words"), id="with-body-is-straight-line"),
    pytest.param("with suppress(KeyError):\n    v = d['k']\nprint(v)", ("suppress", "d", "v"),
                 ("v",), id="a-suppressing-with-body-may-stop-early"),
    pytest.param("ok = a or (b := f())\nprint(b)", ("a", "f", "b"), ("b", "ok"),
                 id="walrus-in-a-short-circuit-is-not-definite"),
]


@pytest.mark.parametrize(("source", "inputs", "outputs"), ORDER)
def test_a_name_is_an_input_unless_definitely_bound_before_it_is_read(
        source: str, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> None:
    assert io_of(source) == (inputs, outputs)


def test_inputs_are_listed_in_first_use_order_once() -> None:
    assert analyse("c = b + a + b\nd = a").inputs == ("b", "a")


def test_builtins_are_not_inputs_but_are_reported_separately() -> None:
    result = analyse("print(len(xs), sum(xs))")
    assert result.inputs == ("xs",)
    assert result.builtins_read == ("print", "len", "sum")


def test_a_builtin_name_the_cell_assigns_is_an_input_when_read_first() -> None:
    result = analyse("print(list)\nlist = [1]")
    assert result.inputs == ("list",)
    assert result.builtins_read == ("print",)


# -- scopes ------------------------------------------------------------------------------

SCOPES = [
    pytest.param("def f(a, *args, b=1, **kw):\n    c = a + b\n    return c, args, kw", (),
                 ("f",), id="parameters-and-locals-are-not-inputs"),
    pytest.param("def f():\n    return rate * 2", ("rate",), ("f",),
                 id="global-read-in-a-function-is-an-input"),
    pytest.param("rate = 3\ndef f():\n    return rate * 2", (), ("rate", "f"),
                 id="global-bound-before-the-def-is-own"),
    pytest.param("def f():\n    return rate\nrate = 3", ("rate",), ("f", "rate"),
                 id="global-bound-after-the-def-is-still-an-input"),
    pytest.param("def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)", (),
                 ("fib",), id="recursion-reads-the-function-itself"),
    pytest.param("def outer():\n    v = 1\n    def inner():\n        nonlocal v\n        v += 1\n"
                 "        return v + w\n    return inner", ("w",), ("outer",),
                 id="nonlocals-and-enclosing-locals-are-not-inputs"),
    pytest.param("@register(kind)\ndef f(x=default, *, y: Hint = other) -> Ret:\n    pass",
                 ("register", "kind", "default", "other", "Hint", "Ret"), ("f",),
                 id="decorators-defaults-and-annotations-run-at-def-time"),
    pytest.param("square = lambda v: v * factor", ("factor",), ("square",),
                 id="lambda-parameters-are-local-and-globals-are-inputs"),
    pytest.param("f = lambda n: f(n - 1)", ("f",), ("f",),
                 id="a-lambda-may-run-before-its-assignment"),
    pytest.param("class A(Base):\n    k = 1\n    j = k + q\n    def m(self):\n"
                 "        return A, k", ("Base", "q", "k"), ("A",),
                 id="class-body-names-are-invisible-to-methods"),
    pytest.param("class A:\n    x = x", ("x",), ("A",),
                 id="class-body-reads-a-global-before-binding-it"),
    pytest.param("class A:\n    if c:\n        v = 1\n    w = v", ("c", "v"), ("A",),
                 id="class-body-branch-bindings-are-not-definite"),
    pytest.param("def f():\n    global g\n    g = 1\n    return g", ("g",), ("f", "g"),
                 id="a-global-declared-name-read-in-a-function-is-an-input"),
    pytest.param("def f():\n    import json\n    return json.dumps(x)", ("x",), ("f",),
                 id="imports-inside-a-function-are-local"),
    pytest.param("def f():\n    try:\n        pass\n    except E as e:\n        return e", ("E",),
                 ("f",), id="except-names-inside-a-function-are-local"),
]


@pytest.mark.parametrize(("source", "inputs", "outputs"), SCOPES)
def test_function_lambda_and_class_scopes(source: str, inputs: tuple[str, ...],
                                          outputs: tuple[str, ...]) -> None:
    assert io_of(source) == (inputs, outputs)


COMPREHENSIONS = [
    pytest.param("squares = [x * x for x in xs]", ("xs",), ("squares",),
                 id="loop-variables-are-neither-inputs-nor-outputs"),
    pytest.param("pairs = {k: v * scale for k, v in d.items() if v > floor}",
                 ("d", "floor", "scale"), ("pairs",), id="element-reads-are-global-reads"),
    pytest.param("total = sum(x for row in rows for x in row)", ("rows",), ("total",),
                 id="later-iterables-may-use-earlier-targets"),
    pytest.param("s = {x for x in x}", ("x",), ("s",),
                 id="the-first-iterable-runs-in-the-enclosing-scope"),
    pytest.param("x = 5\nys = [x for x in range(x)]\nprint(x)", (), ("x", "ys"),
                 id="a-comprehension-does-not-rebind-the-cells-name"),
    pytest.param("class A:\n    k = 2\n    v = [k * i for i in range(k)]", ("k",), ("A",),
                 id="comprehension-in-a-class-body-cannot-see-class-names"),
    pytest.param("ys = [y for x in xs if (y := f(x))]\nprint(y)", ("xs", "f", "y"), ("y", "ys"),
                 id="a-comprehension-walrus-may-not-run"),
]


@pytest.mark.parametrize(("source", "inputs", "outputs"), COMPREHENSIONS)
def test_comprehensions_have_their_own_scope(source: str, inputs: tuple[str, ...],
                                             outputs: tuple[str, ...]) -> None:
    assert io_of(source) == (inputs, outputs)


# -- mutations -----------------------------------------------------------------------------

MUTATIONS = [
    pytest.param('df["a"] = 1', ("df",), id="subscript-assignment"),
    pytest.param("obj.x = 2", ("obj",), id="attribute-assignment"),
    pytest.param("lst.append(1)", ("lst",), id="method-call"),
    pytest.param("df.loc[0, 'a'] += 1", ("df",), id="augmented-subscript-of-attribute"),
    pytest.param("del cache['k']", ("cache",), id="subscript-deletion"),
    pytest.param("def f():\n    registry.add(1)", ("registry",), id="method-call-in-a-function"),
    pytest.param("mine = []\nmine.append(1)", (), id="own-values-are-not-mutated-inputs"),
    pytest.param("print(len(xs))", (), id="reads-are-not-mutations"),
]


@pytest.mark.parametrize(("source", "mutated"), MUTATIONS)
def test_methods_and_item_or_attribute_stores_on_inputs_are_mutation_candidates(
        source: str, mutated: tuple[str, ...]) -> None:
    assert analyse(source).mutated == mutated


# -- IPython syntax ------------------------------------------------------------------------


def test_line_magics_and_shell_escapes_are_understood() -> None:
    pytest.importorskip("IPython")
    result = analyse("""
        %time y = f(x)
        !echo $name {path.upper()}
        files = !ls {folder}
        r = %time g(y)
        %matplotlib inline
    """)
    assert result.inputs == ("f", "x", "name", "path", "folder", "g")
    assert result.outputs == ("y", "files", "r")


def test_a_custom_transform_is_used_only_when_the_cell_is_not_python() -> None:
    def transform(source: str) -> str:
        return source.replace("@@", "value = ")

    assert analyse_cell("@@ seed", transform).outputs == ("value",)
    assert analyse_cell("x = seed", transform).inputs == ("seed",)


# -- errors --------------------------------------------------------------------------------


def test_a_syntax_error_names_the_line_in_one_line() -> None:
    with pytest.raises(CellSyntaxError) as caught:
        analyse("a = 1\nb = 2\nc = (3 +\n")
    message = str(caught.value)
    assert message.startswith("cell has a syntax error at line 3: ")
    assert "\n" not in message
    assert isinstance(caught.value, OrchestrateError)


def test_a_syntax_error_is_reported_without_ipython_too() -> None:
    with pytest.raises(CellSyntaxError, match="at line 2: invalid syntax"):
        analyse_cell("x = 1\nx = = 2", lambda source: source)


# -- overrides -----------------------------------------------------------------------------

OVERRIDES = [
    pytest.param("a,b", ("a", "b"), id="plain"),
    pytest.param(" a , b ,", ("a", "b"), id="whitespace-and-trailing-comma"),
    pytest.param("a,a,b", ("a", "b"), id="duplicates-dropped"),
    pytest.param("", (), id="empty"),
]


@pytest.mark.parametrize(("text", "names"), OVERRIDES)
def test_overrides_are_comma_separated_names(text: str, names: tuple[str, ...]) -> None:
    assert parse_override(text) == names


@pytest.mark.parametrize("bad", ["1x", "a-b", "class", "a b"])
def test_an_invalid_override_name_is_a_one_line_error_naming_it(bad: str) -> None:
    with pytest.raises(OverrideError, match=repr(bad)) as caught:
        parse_override(f"ok, {bad}")
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, OrchestrateError)


# -- normalised code -----------------------------------------------------------------------


def test_comments_whitespace_and_blank_lines_do_not_change_the_code_hash() -> None:
    plain = analyse_cell("x = f(a, b)\ny = x + 1\n")
    noisy = analyse_cell("# load\n\nx = f( a,b )   # call\n\n\ny=x+1  \n\n")
    assert plain.code_hash == noisy.code_hash
    assert plain.normalised == noisy.normalised


def test_a_changed_constant_or_docstring_changes_the_code_hash() -> None:
    base = analyse_cell('def f():\n    "Doc."\n    return 1\n')
    assert analyse_cell('def f():\n    "Doc."\n    return 2\n').code_hash != base.code_hash
    assert analyse_cell('def f():\n    "Other."\n    return 1\n').code_hash != base.code_hash


def test_the_code_hash_is_a_16_byte_hex_digest_stable_across_runs() -> None:
    result = analyse_cell("x = 1\n")
    assert len(result.code_hash) == 32
    assert result.normalised == (
        "Module(body=[Assign(targets=[Name(id='x', ctx=Store())], value=Constant(value=1))], "
        "type_ignores=[])")


def test_repeated_analysis_of_the_same_source_is_memoised() -> None:
    assert analyse_cell("z = 1\n") is analyse_cell("z = 1\n")


LAST_EXPRESSION = [
    pytest.param("x = 1\nx", True, id="bare-expression"),
    pytest.param("x = 1", False, id="assignment"),
    pytest.param("x = 1\nx;", False, id="semicolon-silences-it"),
    pytest.param("x = 1\nx  # comment; here", True, id="semicolon-in-a-comment"),
    pytest.param("x = 1\nx\n# trailing comment", True, id="trailing-comment"),
    pytest.param("", False, id="empty-cell"),
]


@pytest.mark.parametrize(("source", "expected"), LAST_EXPRESSION)
def test_last_expression_says_whether_the_value_is_displayed(source: str,
                                                             expected: bool) -> None:
    assert analyse_cell(source).last_expression is expected


# -- dependencies between cells ---------------------------------------------------------------


def cells(**sources: str) -> list[tuple[str, CellAnalysis]]:
    return [(name, analyse(source)) for name, source in sources.items()]


def test_edges_point_from_the_latest_preceding_producer_to_the_reader() -> None:
    notebook = cells(load="raw = read()", clean="raw = raw.dropna()",
                     report="summary = raw.describe()")
    assert dependency_edges(notebook) == [("load", "clean", "raw"), ("clean", "report", "raw")]


def test_inputs_nobody_produces_have_no_edge() -> None:
    assert dependency_edges(cells(a="x = param * 2")) == []


def test_an_input_produced_only_later_comes_from_the_latest_producer() -> None:
    notebook = cells(report="print(total)", first="total = 1", second="total = 2")
    assert dependency_edges(notebook) == [("second", "report", "total")]
    assert dependency_order(notebook) == ["first", "second", "report"]


def test_dependency_order_keeps_notebook_order_when_it_already_works() -> None:
    notebook = cells(load="raw = read()", other="z = 1", clean="df = raw.dropna()",
                     plot="df.plot()")
    assert dependency_order(notebook) == ["load", "other", "clean", "plot"]


def test_a_cycle_is_an_error_naming_the_cells_in_it() -> None:
    notebook = cells(load="x = y + 1", clean="y = x * 2", report="print(y)")
    with pytest.raises(CellCycleError) as caught:
        dependency_order(notebook)
    message = str(caught.value)
    assert message.startswith("cells form a cycle: load → clean → load")
    assert "\n" not in message


def test_confirmed_mutations_can_be_merged_into_outputs_to_order_cells() -> None:
    load, mutate, report = cells(load="df = read()", mutate="df['x'] = 1",
                                 report="print(df)")
    mutate = (mutate[0], replace(mutate[1], outputs=mutate[1].outputs + mutate[1].mutated))
    assert dependency_edges([load, mutate, report]) == [("load", "mutate", "df"),
                                                        ("mutate", "report", "df")]


def test_duplicate_cell_names_are_refused() -> None:
    notebook = [("a", analyse("x = 1")), ("a", analyse("y = x"))]
    with pytest.raises(DuplicateCellNameError, match="'a'"):
        dependency_order(notebook)


def test_downstream_of_follows_edges_transitively() -> None:
    notebook = cells(load="raw = read()", clean="df = raw.dropna()", plot="df.plot()",
                     model="fit(df)", side="other = 1")
    edges = dependency_edges(notebook)
    assert downstream_of(edges, "load") == {"clean", "plot", "model"}
    assert downstream_of(edges, "clean") == {"plot", "model"}
    assert downstream_of(edges, "side") == set()


def test_downstream_of_a_cell_in_a_cycle_excludes_the_cell_itself() -> None:
    edges = [("a", "b", "x"), ("b", "a", "y")]
    assert downstream_of(edges, "a") == {"b"}
