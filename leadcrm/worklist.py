"""The admin's front page is the day's work: each app's `worklist` module gives its panels
(leadcrm.plugins), shown in INSTALLED_APPS order above the list of models."""

from dataclasses import dataclass, field

from django.http import HttpRequest

from . import plugins


@dataclass(frozen=True)
class Cell:
    text: str
    url: str = ""


@dataclass(frozen=True)
class Panel:
    """A titled table: a count (capped by the app: `shown_count`), rows of cells, a link to all."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    count: int | None = None
    cap: int | None = None  # the count stops here: shown as "1000+"
    more_url: str = ""
    empty: str = "Nothing here."
    classes: list[str] = field(default_factory=list)

    @property
    def shown_count(self) -> str:
        if self.count is None:
            return ""
        return f"{self.cap}+" if self.cap is not None and self.count > self.cap else str(self.count)


def panels(request: HttpRequest) -> list[Panel]:
    return [panel for module in plugins.each("worklist") for panel in module.panels(request)]
