"""CLI: ``python -m vigil_engine --config FILE [--data DIR] [--host H] [--port P]``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import signal
import sys
from pathlib import Path

from . import __version__
from .config import Config, ConfigError, load_config
from .detect.model import ModelError
from .redact import install_log_scrubber


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vigil_engine", description="Vigil security engine")
    parser.add_argument("--config", required=True, type=Path, help="YAML configuration file")
    parser.add_argument("--data", type=Path, help="data folder (overrides data_dir)")
    parser.add_argument("--host", help="API bind address (overrides api.host)")
    parser.add_argument("--port", type=int, help="API port (overrides api.port)")
    parser.add_argument("--ingress", action="store_true",
                        help="running as a Home Assistant app: trust the Supervisor's ingress")
    parser.add_argument("--app-options", type=Path, metavar="OPTIONS_JSON",
                        help="running as a Home Assistant app: apply the app's options.json "
                             "to the configuration (written as an example when missing)")
    parser.add_argument("--log-level", default="info",
                        choices=["debug", "info", "warning", "error"])
    parser.add_argument("--print-token", action="store_true",
                        help="print the API token once the API is up")
    parser.add_argument("--check", action="store_true",
                        help="validate the configuration and exit")
    parser.add_argument("--version", action="version", version=f"vigil_engine {__version__}")
    return parser.parse_args(argv)


def load(args: argparse.Namespace) -> Config:
    """The configuration from the YAML file, with the app's options when given."""
    data_dir = args.data.resolve() if args.data else None
    if args.app_options is None:
        return load_config(args.config, data_dir=data_dir)
    from .app_options import ENV_LLM_API_KEY, load_app_config, read_options

    options = read_options(args.app_options)
    if options.llm_api_key:
        os.environ[ENV_LLM_API_KEY] = options.llm_api_key
    return load_app_config(args.config, options, data_dir=data_dir)


async def run(args: argparse.Namespace) -> int:
    from .app import Engine

    config = load(args)
    api = config.api
    if args.host:
        api = dataclasses.replace(api, host=args.host)
    if args.port:
        api = dataclasses.replace(api, port=args.port)
    if args.ingress:
        api = dataclasses.replace(api, ingress=True)
    config = dataclasses.replace(config, api=api)
    engine = Engine(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await engine.start()
    except BaseException:
        await engine.stop()
        raise
    print(f"Vigil API: {engine.url}", flush=True)
    if args.print_token:
        print(f"API token: {engine.token}", flush=True)
    await stop.wait()
    await engine.stop()
    return 0


def limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread its own malloc arena; with a decoder, detector and
    SQLite threads per camera that costs tens of MB of RSS for nothing."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
        # Large buffers (frames) straight from mmap, returned to the OS when freed.
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    limit_malloc_arenas()
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("libav").setLevel(logging.ERROR)
    install_log_scrubber()
    try:
        if args.check:
            load(args)
            print("configuration OK")
            return 0
        return asyncio.run(run(args))
    except ConfigError as err:
        print(f"Configuration error in {args.config}:", file=sys.stderr)
        for problem in err.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except ModelError as err:
        print(f"Detector error: {err}", file=sys.stderr)
        return 3
    except OSError as err:
        print(f"Cannot start: {err}", file=sys.stderr)
        return 4


if __name__ == "__main__":
    sys.exit(main())
