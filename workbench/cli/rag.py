"""RAG commands: ``workbench index`` (embed what is new) and ``workbench ask "QUESTION"``."""

from __future__ import annotations

import argparse
import sys

from workbench.cli import Result, command


def _ws():
    from workbench.workspace import open_workspace

    return open_workspace()


def _index_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backtest", type=int, action="append", help="only this backtest id (repeatable)")
    p.add_argument("--max-trades", type=int, default=None, help="trades embedded one by one per backtest")
    p.add_argument(
        "--reembed",
        action="store_true",
        help="drop all vectors and embed again (after changing WORKBENCH_EMBED_BACKEND)",
    )


@command("index", "embed the chunks of stored backtests that are not indexed yet (Chroma)", _index_args)
def index(args: argparse.Namespace) -> Result:
    from workbench.rag import index_backtests

    report = index_backtests(
        _ws(), args.backtest, progress=sys.stderr.isatty(), max_trades=args.max_trades, reembed=args.reembed
    ).to_dict()
    text = (
        f"{report['chunks']} chunks of {len(report['backtests'])} backtests: {report['embedded']} embedded, "
        f"{report['skipped']} already indexed, {report['removed']} removed in {report['seconds']} s -> "
        f"{report['where']}"
    )
    return Result(report, text)


def _ask_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("question", help='e.g. "Which weekdays lose money?"')
    p.add_argument("--backtest", type=int, default=None, help="only this backtest id")
    p.add_argument("-k", type=int, default=10, help="retrieved sources (default 10)")
    p.add_argument("--no-llm", action="store_true", help="answer from facts and sources only")


@command("ask", "ask a question about your trades: facts from SQL, sources from the index", _ask_args)
def ask(args: argparse.Namespace) -> Result:
    from workbench.rag import ask as ask_

    answer = ask_(_ws(), args.question, args.backtest, k=args.k, use_llm=not args.no_llm)
    data = answer.to_dict()
    lines = [answer.answer, ""]
    lines += [f"fact {f.name} = {f.value}" for f in answer.facts if not isinstance(f.value, list | dict)]
    lines += [f"[{s.id}] {s.text[:140]}" for s in answer.sources[:10]]
    if answer.note:
        lines.append(f"note: {answer.note}")
    return Result(data, "\n".join(lines))
