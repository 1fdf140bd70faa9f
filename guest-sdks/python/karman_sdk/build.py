"""Builds a Python Runnable into a component with componentize-py.

    karman-py-build app.py -o app.wasm [--wit DIR] [--world NAME]
    python -m karman_sdk.build app.py -o app.wasm [--wit DIR] [--world NAME]

APP is a file (`app.py`, found in its directory) or a module name (found in the current
directory). The component targets `karman:runnable/runnable`, from `--wit` or, by default, the
WIT package shipped inside this package (`karman_sdk/wit/`, a copy of the Karman repository's
`wit/`); `--world` targets another world of the `--wit` root instead (a project's own world,
e.g. a library that exports a team's interface; `karman build` passes it for a project with a
`wit/` folder). componentize-py finds modules in the app's directory, this SDK's, and the
site-packages of the environment running the build; only what the app imports is bundled.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

COMPONENTIZE_PY = "0.25.1"
WORLD = "karman:runnable/runnable"
PACKAGE_DIR = Path(__file__).resolve().parent
SDK_DIR = PACKAGE_DIR.parent
PACKAGED_WIT = PACKAGE_DIR / "wit"


def _componentize_py() -> str:
    """The componentize-py command of this interpreter's environment."""
    install = f"{sys.executable} -m pip install componentize-py=={COMPONENTIZE_PY}"
    try:
        version = importlib.metadata.version("componentize-py")
    except importlib.metadata.PackageNotFoundError:
        sys.exit(f"error: componentize-py is not installed; install it with\n  {install}")
    if version != COMPONENTIZE_PY:
        print(
            f"warning: componentize-py {version} is installed; karman_sdk is tested with "
            f"{COMPONENTIZE_PY} ({install})",
            file=sys.stderr,
        )
    script = Path(sys.executable).with_name("componentize-py")
    found = str(script) if script.exists() else shutil.which("componentize-py")
    if found is None:
        sys.exit(f"error: no componentize-py command next to {sys.executable} or on PATH")
    return found


def _program() -> str:
    """The name the help shows: the console script's, or the `-m` form."""
    name = Path(sys.argv[0]).name
    return "python -m karman_sdk.build" if name in ("__main__.py", "build.py") else name


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog=_program(), description="Build a Python Runnable into a component."
    )
    parser.add_argument("app", help="a .py file, or a module name in the current directory")
    parser.add_argument("-o", "--output", required=True, type=Path, help="the component to write")
    parser.add_argument(
        "--wit",
        type=Path,
        default=PACKAGED_WIT,
        help="the WIT directory (default: the one shipped with karman_sdk, %(default)s)",
    )
    parser.add_argument(
        "--world",
        help="a world of the --wit root to build instead of karman:runnable/runnable",
    )
    args = parser.parse_args(argv)

    if args.app.endswith(".py") or Path(args.app).is_file():
        app = Path(args.app).resolve()
        if not app.is_file():
            sys.exit(f"error: no such file: {args.app}")
        module, app_dir = app.stem, app.parent
    else:
        module, app_dir = args.app, Path.cwd()
    if module == "wit_world":
        sys.exit("error: the app module cannot be named wit_world (the bindings' name)")
    if args.world is None and not (args.wit / "runnable.wit").is_file():
        if args.wit == PACKAGED_WIT:
            sys.exit(f"error: no runnable.wit in {args.wit}: this karman_sdk lacks its WIT package")
        sys.exit(f"error: no runnable.wit in {args.wit}; pass --wit DIR (`karman wit --out DIR`)")

    world = args.world or WORLD
    command = [_componentize_py(), "-q", "-d", str(args.wit), "-w", world]
    command += ["componentize", module, "-o", str(args.output)]
    # The environment's site-packages too: pure-Python dependencies installed next to the SDK.
    for path in dict.fromkeys([app_dir, SDK_DIR, Path(sysconfig.get_paths()["purelib"])]):
        command += ["-p", str(path)]

    args.output.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # componentize-py's own Rust backtraces say nothing about the app; its Python traceback does.
    env = {**os.environ, "RUST_BACKTRACE": "0"}
    if subprocess.run(command, env=env).returncode != 0:
        sys.exit(f"error: componentize-py failed to build {args.app}")
    size = args.output.stat().st_size
    print(f"{args.output}: {size / 2**20:.1f} MiB in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
