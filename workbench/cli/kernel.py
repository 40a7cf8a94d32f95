"""`workbench kernel install`: register the "Trading Workbench" Jupyter kernel for this environment."""

from __future__ import annotations

import argparse

from workbench.cli import Result, command


def _args(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="for the current user (~/.local/share/jupyter)")
    where.add_argument("--sys-prefix", action="store_true", help="into this environment (sys.prefix)")
    where.add_argument("--prefix", help="under PREFIX/share/jupyter/kernels")


@command("kernel install", "register the Trading Workbench kernel (default: system-wide)", _args)
def kernel_install(args: argparse.Namespace) -> Result:
    from workbench.kernel import DISPLAY_NAME, KERNEL_NAME, install_kernel

    path = install_kernel(prefix=args.prefix, user=args.user, sys_prefix=args.sys_prefix)
    return Result(
        {"kernel": KERNEL_NAME, "display_name": DISPLAY_NAME, "path": str(path)},
        f"installed kernel {DISPLAY_NAME!r} ({KERNEL_NAME}) in {path}",
    )
