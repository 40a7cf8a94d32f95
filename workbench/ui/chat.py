"""The chat widget: ask about your trades, see the answer, the facts behind it and clickable sources.

A thin ipywidgets skin over :func:`workbench.rag.ask`; notebooks and tests drive it without clicking:

>>> w = ChatWidget(ws)
>>> answer = w.ask("Which weekdays lose money?")   # what typing and pressing "Ask" does
>>> w.show_source(answer.sources[0].id)            # what clicking a source does
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from workbench.errors import MissingDependencyError, WorkbenchError

try:
    import ipywidgets as widgets
except ImportError:  # pragma: no cover - exercised only without the notebook extra
    raise MissingDependencyError("ipywidgets", "notebook") from None

if TYPE_CHECKING:
    from workbench.rag.answer import Answer
    from workbench.workspace import Workspace

__all__ = ["ChatWidget"]

_ALL = "all backtests"
_ALL_ID = 0  # backtest ids start at 1; a None value would leave the dropdown showing nothing


def _facts_html(answer: Answer) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(f.name)}</td><td>{html.escape(str(f.value))[:300]}</td>"
        f"<td><code>{html.escape(f.query)}</code></td></tr>"
        for f in answer.facts
    )
    return (
        "<table class='wb-table'><caption><b>Facts</b> (DuckDB over the stored trades)</caption>"
        f"<tr><th>name</th><th>value</th><th>query</th></tr>{rows}</table>"
    )


class ChatWidget(widgets.VBox):
    """Question box, backtest filter, answer, facts table and one button per source."""

    def __init__(self, ws: Workspace, *, use_llm: bool = True, k: int = 10) -> None:
        self.ws, self.use_llm, self.k = ws, use_llm, k
        self.history: list[Answer] = []
        self.sources: dict[str, Any] = {}
        ids = [int(i) for i in ws.backtests()["id"]]
        self.question = widgets.Text(placeholder="Which weekdays lose money?", layout={"width": "60%"})
        self.backtest = widgets.Dropdown(
            options=[(_ALL, _ALL_ID)] + [(f"#{i}", i) for i in ids], value=_ALL_ID
        )
        self.button = widgets.Button(description="Ask", button_style="primary")
        self.answer_html = widgets.HTML()
        self.facts_html = widgets.HTML()
        self.source_buttons = widgets.VBox()
        self.source_detail = widgets.HTML()
        self.button.on_click(lambda _: self.ask(self.question.value))
        self.question.on_submit(lambda _: self.ask(self.question.value))
        super().__init__(
            [
                widgets.HBox([self.question, self.backtest, self.button]),
                self.answer_html,
                self.facts_html,
                widgets.HTML("<b>Sources</b> (click to read)"),
                self.source_buttons,
                self.source_detail,
            ]
        )

    def ask(self, question: str) -> Answer | None:
        from workbench.rag import ask

        try:
            backtest = self.backtest.value if self.backtest.value != _ALL_ID else None
            answer = ask(self.ws, question, backtest, k=self.k, use_llm=self.use_llm)
        except WorkbenchError as e:
            self.answer_html.value = f"<p style='color:#cf222e'>error: {html.escape(str(e))}</p>"
            return None
        self.history.append(answer)
        model = answer.llm or "no language model was used"
        self.answer_html.value = (
            f"<div style='white-space:pre-wrap'>{html.escape(answer.answer)}</div>"
            f"<p><i>{html.escape(model)}{' — ' + html.escape(answer.note) if answer.note else ''}</i></p>"
        )
        self.facts_html.value = _facts_html(answer)
        self.sources = {s.id: s for s in answer.sources}
        buttons = []
        for s in answer.sources:
            label = f"{s.id}" + (
                " (cited)" if s.cited else f" ({s.score:.2f})" if s.score is not None else ""
            )
            b = widgets.Button(description=label, tooltip=s.text[:200], layout={"width": "auto"})
            b.on_click(lambda _, cid=s.id: self.show_source(cid))
            buttons.append(b)
        self.source_buttons.children = tuple(buttons)
        self.source_detail.value = ""
        return answer

    def show_source(self, chunk_id: str) -> str:
        s = self.sources[chunk_id]
        self.source_detail.value = (
            f"<p><b>{html.escape(s.id)}</b> ({html.escape(s.kind)}, backtest {s.backtest_id})<br>"
            f"{html.escape(s.text)}</p>"
        )
        return s.text
