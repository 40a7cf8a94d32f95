"""``workbench infer BACKTEST_ID``: the rules behind a backtest's trades (workbench.infer)."""

from __future__ import annotations

import argparse

from workbench.cli import Result, command


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("backtest_id", type=int, help="the stored backtest whose trades to explain")
    p.add_argument(
        "--data",
        default=None,
        metavar="SYMBOL:TF",
        help="the bars to infer on (default: the stored series of its symbol covering its trades)",
    )
    p.add_argument(
        "--tol", type=int, default=1, metavar="N", help="entries/exits match within N bars (default 1)"
    )
    p.add_argument(
        "--strategy",
        action="append",
        default=None,
        metavar="NAME",
        help="search only these library strategies (repeatable; default: all)",
    )
    p.add_argument(
        "--min-f1",
        type=float,
        default=0.6,
        help="below this entry F1 learned rules (a decision tree) are tried too (default 0.6)",
    )
    p.add_argument(
        "--shift-hours",
        type=float,
        default=0.0,
        metavar="H",
        help="add H hours to the trades' times first (a report on a UTC+2 server clock vs UTC bars: -2)",
    )
    p.add_argument("--no-store", action="store_true", help="do not store the replay as a backtest")
    p.add_argument("--exits", action="store_true", help="add every real exit's classification to the JSON")


@command("infer", "infer the strategy, parameters and stops behind a backtest's trades", _args)
def infer_cmd(args: argparse.Namespace) -> Result:
    from workbench.infer import infer
    from workbench.workspace import open_workspace

    res = infer(
        open_workspace(),
        args.backtest_id,
        data=args.data,
        tol=args.tol,
        strategies=args.strategy,
        min_f1=args.min_f1,
        shift_hours=args.shift_hours,
        store=not args.no_store,
    )
    data = res.to_dict(exit_rows=args.exits)
    ag = data["agreement"]
    lines = [
        f"{res.strategy} {res.params} {res.settings} on {res.bars}"
        + (" (learned rules)" if res.learned else ""),
        f"agreement: entry F1 {ag['entry_f1']}, exit F1 {ag['exit_f1']}, precision {ag['precision']}, "
        f"recall {ag['recall']}, P/L correlation {ag['pnl_correlation']} "
        f"({ag['matched']} matched, {ag['missed']} missed, {ag['extra']} extra; within {res.tolerance_bars} bar)",
        *(f"  {r}" for r in res.rules),
        "exits: " + ", ".join(f"{k} {v}" for k, v in res.exits["counts"].items()),
        "candidates:",
        *(
            f"  {c['strategy']} {c['params']} entry F1 {c['entry_f1']} exit F1 {c['exit_f1']}"
            for c in res.candidates
        ),
        *(f"note: {n}" for n in res.notes),
        f"{res.combinations} combinations in {data['seconds']} s"
        + (
            f"; replay stored as backtest {res.backtest_id} (`workbench codegen {res.backtest_id}`)"
            if res.backtest_id
            else ""
        ),
    ]
    return Result(data, "\n".join(lines))
