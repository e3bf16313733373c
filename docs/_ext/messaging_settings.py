"""Sphinx extension: the settings reference, generated from ``messaging.conf``.

``messaging.conf`` is the one place a setting is read: each public function reads its
setting with ``get(NAME, DEFAULT)``, ``flag``, ``callable_setting`` or ``first_set``, and its
docstring says what the setting means. This reads those functions' source (it never
evaluates a setting), so each ``MESSAGING_*`` setting is listed with its default, the older
or Django names it falls back to, its system check, and its docstring. A page asks for the
reference with the line ``<!-- messaging-settings -->``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

PLACEHOLDER = "<!-- messaging-settings -->"
OURS = re.compile(r"^MESSAGING_[A-Z0-9_]+$")
SETTING = re.compile(r"^[A-Z][A-Z0-9_]+$")
READERS = {"get", "flag", "callable_setting", "first_set"}
ROLE = re.compile(r":(?:func|class|mod|data|attr|meth):`~?([^`]+)`")


@dataclass
class Setting:
    """One ``MESSAGING_*`` setting as its reader function reads it."""

    name: str
    default: str | None
    fallbacks: list[str] = field(default_factory=list)
    reader: str = ""
    doc: str = ""
    check_id: str | None = None


def reference() -> str:
    """The settings reference as MyST Markdown: one section per module of ``messaging.conf``."""
    import messaging.conf

    checks = check_ids()
    sections = []
    for module in conf_modules(messaging.conf):
        settings = settings_of(module, messaging.conf.__all__, checks)
        if settings:
            title = (inspect.getdoc(module) or module.__name__).split("\n\n")[0]
            title = " ".join(title.split()).rstrip(".")
            sections.append(f"## {title}\n\n" + "\n".join(map(entry, settings)))
    return "\n".join(sections)


def conf_modules(package: ModuleType) -> list[ModuleType]:
    """The modules of ``messaging.conf`` that read settings (``base`` only knows how)."""
    names = [info.name for info in pkgutil.iter_modules(package.__path__) if info.name != "base"]
    return [importlib.import_module(f"{package.__name__}.{name}") for name in sorted(names)]


def settings_of(module: ModuleType, public: list[str], checks: dict[str, str]) -> list[Setting]:
    """The settings the public functions of ``module`` read, in the module's order; one
    entry per setting (the function the system check runs, when several read it)."""
    found: dict[str, Setting] = {}
    functions = [
        value
        for name, value in vars(module).items()
        if name in public and inspect.isfunction(value) and value.__module__ == module.__name__
    ]
    for function in sorted(functions, key=lambda f: f.__code__.co_firstlineno):
        setting = read(function, checks.get(function.__name__))
        if setting and (setting.name not in found or setting.check_id):
            found[setting.name] = setting
    return list(found.values())


def read(function, check_id: str | None) -> Setting | None:
    """The setting ``function`` reads (its first ``MESSAGING_*`` name), else ``None``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    loops = {
        node.target.id: [c.value for c in node.iter.elts if isinstance(c, ast.Constant)]
        for node in ast.walk(tree)
        if isinstance(node, ast.For)
        and isinstance(node.target, ast.Name)
        and isinstance(node.iter, ast.Tuple)
    }
    names: list[str] = []
    default = None
    for call in _reader_calls(tree):
        names += _names(call, loops)
        default = _default(call) or default
    ours = [name for name in dict.fromkeys(names) if OURS.match(name)]
    if not ours:
        return None
    doc = ROLE.sub(r"`\1`", inspect.getdoc(function) or "")
    fallbacks = [name for name in dict.fromkeys(names) if name != ours[0]]
    return Setting(ours[0], default, fallbacks, function.__name__, doc, check_id)


def _reader_calls(tree: ast.AST) -> list[ast.Call]:
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in READERS
    ]
    return sorted(calls, key=lambda call: (call.lineno, call.col_offset))


def _names(call: ast.Call, loops: dict[str, list[str]]) -> list[str]:
    arguments = call.args if call.func.id == "first_set" else call.args[:1]
    names = []
    for argument in arguments:
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            names.append(argument.value)
        elif isinstance(argument, ast.Name):
            names += loops.get(argument.id, [])
    return [name for name in names if SETTING.match(name)]


def _default(call: ast.Call) -> str | None:
    """The default's source, when the call gives one other than ``UNSET``."""
    if call.func.id == "first_set":
        given = [keyword.value for keyword in call.keywords if keyword.arg == "default"]
    else:
        given = call.args[1:2]
    if not given or (isinstance(given[0], ast.Name) and given[0].id == "UNSET"):
        return None
    source = ast.unparse(given[0])
    value = _arithmetic(given[0])
    return f"{value} ({source})" if value is not None and str(value) != source else source


def _arithmetic(node: ast.AST):
    """The value of a default written as arithmetic on numbers (``30 * 60``), else ``None``."""
    allowed = (ast.Expression, ast.BinOp, ast.Constant, ast.Mult, ast.Add, ast.Sub)
    expression = ast.Expression(node)
    if not all(isinstance(n, allowed) for n in ast.walk(expression)):
        return None
    constants = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant)]
    if not all(isinstance(value, int | float) for value in constants):
        return None
    return eval(compile(expression, "<default>", "eval"), {"__builtins__": {}})


def check_ids() -> dict[str, str]:
    """Reader function name -> the id of the system check that runs it (``messaging.checks``)."""
    import messaging

    source = Path(messaging.__file__).with_name("checks.py").read_text()
    ids = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and isinstance(value, ast.Attribute):
                    ids[value.attr] = key.value
    return ids


def entry(setting: Setting) -> str:
    lines = [f"### `{setting.name}`", ""]
    facts = [f"Default: `{setting.default}`" if setting.default else "No default"]
    if setting.fallbacks:
        facts.append("falls back to " + ", then ".join(f"`{n}`" for n in setting.fallbacks))
    if setting.check_id:
        facts.append(f"checked at startup: `{setting.check_id}`")
    lines += ["; ".join(facts) + f". Read by `messaging.conf.{setting.reader}()`.", ""]
    lines += [setting.doc, ""]
    return "\n".join(lines)


def fill(app, docname: str, source: list[str]) -> None:
    if PLACEHOLDER in source[0]:
        source[0] = source[0].replace(PLACEHOLDER, reference())


def setup(app):
    app.connect("source-read", fill)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
