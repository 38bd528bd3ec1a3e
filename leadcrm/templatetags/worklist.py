from django import template

from leadcrm import worklist

register = template.Library()


@register.simple_tag(takes_context=True)
def worklist_panels(context) -> list[worklist.Panel]:
    return worklist.panels(context["request"])
