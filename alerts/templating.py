"""The sandbox notification rules render in: staff-written Django templates over plain values.

A template can walk every attribute of what it is handed, so rules never see a model instance
(`alerts.models.notification_context` builds what they see), and the engine they compile in reads
no files and loads no tag library.
"""

import functools
from collections.abc import Iterator, Mapping

from django.template import Context, Engine, Library, Template
from django.template.base import FilterExpression, Lexer, Node, TokenType, Variable
from django.template.defaulttags import FilterNode
from django.template.smartif import TokenBase

# What a rule may not use: {% debug %} prints the context and the loaded modules; the others read
# templates from files or load code.
FORBIDDEN_TAGS = ("debug", "include", "extends", "load")
# Names every Context holds whatever it is given.
CONTEXT_BUILTINS = ("True", "False", "None")


class Record(Mapping):
    """Named plain values with a text of their own: `{{ user }}` reads as the person's name, as
    it did when templates were handed the model, and `{{ user.email }}` is one of the values."""

    def __init__(self, text: str, **values) -> None:
        self._text, self._values = text, values

    def __getitem__(self, key: str):
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __str__(self) -> str:
        return self._text


def _sandbox() -> Engine:
    # No loaders: {% include %} and {% extends %} could read any template (or file) otherwise.
    # No libraries: {% load %} has nothing to load. The forbidden tags are not even compiled.
    engine = Engine(loaders=[], libraries={}, autoescape=False)
    allowed = Library()
    for library in engine.template_builtins:
        allowed.tags.update({n: t for n, t in library.tags.items() if n not in FORBIDDEN_TAGS})
        allowed.filters.update(library.filters)
    engine.template_builtins = [allowed]
    return engine


ENGINE = _sandbox()


@functools.lru_cache(maxsize=128)
def compile_template(text: str) -> Template:
    """Compiled once per text, not once per alert: a nightly batch uses a handful of rules."""
    return ENGINE.from_string(text)


def render(text: str, context: dict) -> str:
    """Plain text (email, not HTML): nothing is escaped. Raises what the template raises."""
    return compile_template(text).render(Context(context, autoescape=False))


def template_problem(text: str, samples: dict[str, dict]) -> str | None:
    """Why a template cannot be saved, in a sentence for the person writing it; None when it can.

    `samples` are contexts as alerts produce them, by a description of the alert: the first with
    every value filled in (the names a template may use are its keys), the others as sparse as real
    alerts come, so that a template failing on a missing person fails here, not at send time."""
    forbidden = _forbidden_tag(text)
    if forbidden:
        return f"The {{% {forbidden} %}} tag is not allowed in notification templates."
    try:
        template = compile_template(text)
    except Exception as exc:  # TemplateSyntaxError, and the odd ValueError of a tag's arguments
        return f"Template syntax error: {exc}"
    full = next(iter(samples.values()))
    unknown = sorted(set(_unknown_names(template, full)))
    if unknown:
        return (
            f"Notification templates cannot use {', '.join(unknown)}. "
            f"Available: {', '.join(available_names(full))}."
        )
    for description, sample in samples.items():
        try:
            render(text, sample)
        except Exception as exc:  # a filter raising on a sample value fails on real ones too
            return f"This template fails for {description}: {type(exc).__name__}: {exc}"
    return None


def available_names(context: dict) -> list[str]:
    names = []
    for key, value in context.items():
        names.append(key)
        if isinstance(value, Record):
            names.extend(f"{key}.{field}" for field in value)
    return names


def _forbidden_tag(text: str) -> str | None:
    for token in Lexer(text).tokenize():
        words = token.contents.split() if token.token_type == TokenType.BLOCK else []
        if words and words[0] in FORBIDDEN_TAGS:
            return words[0]
    return None


def _unknown_names(template: Template, context: dict) -> Iterator[str]:
    """Each variable the template names that the context does not hold. A name bound inside the
    template ({% for %}, {% with %}, `as`) is the template's own; beyond a record's values (the
    `year` of `alert.time.year`) a plain value reaches nothing else, so the walk stops there."""
    bound = set(CONTEXT_BUILTINS) | {"forloop"}
    for path in _lookups(template.nodelist, bound):
        if path[0] in bound:
            continue
        value = context
        for bit in path:
            if not isinstance(value, Mapping):
                break
            if bit not in value:
                yield ".".join(path)
                break
            value = value[bit]


def _lookups(nodelist, bound: set[str]) -> list[tuple[str, ...]]:
    """The lookups of every variable in the template, in tags' and filters' arguments too; adds to
    `bound` the names tags define. A stack, not recursion: nesting deep enough to compile must
    not overflow here."""
    found, stack, seen = [], [nodelist], set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:  # a node that refers back to another cannot loop the walk
            continue
        seen.add(id(obj))
        if isinstance(obj, Variable):
            if obj.lookups:
                found.append(obj.lookups)
        elif isinstance(obj, FilterExpression):
            stack.append(obj.var)
            stack.extend(arg for _func, args in obj.filters for lookup, arg in args if lookup)
        elif isinstance(obj, (Node, TokenBase)):  # a tag, or a part of an {% if %} condition
            bound.update(_names_defined(obj))
            stack.extend(vars(obj).values())
        elif isinstance(obj, (list, tuple)):  # a NodeList, {% if %} branches
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
    return found


def _names_defined(node) -> set[str]:
    names = set(getattr(node, "loopvars", []))  # {% for %}
    names.update(getattr(node, "extra_context", {}))  # {% with %}
    if isinstance(node, FilterNode):  # {% filter upper %} applies its filters to a "var"
        names.add("var")
    for attribute in ("asvar", "var_name", "variable_name"):  # {% url … as x %}, {% regroup %}, …
        if isinstance(getattr(node, attribute, None), str):
            names.add(getattr(node, attribute))
    return names
