"""`sam local start-api` against emulated AWS (docs/sam-local.md).

  python3 scripts/sam-local.py [--port 5050] [--bind 0.0.0.0] [--docker-host host.docker.internal]
                               [--api-port 3000] [--stage dev] [--env-file env.json] [--once]

Starts moto's server (moto_serial.py, the emulated suite's: one request at a time) on
BIND:PORT, where Docker containers can reach it; creates template.yaml's own resources in it
(template_resources.py, as `run.py up` does: tables with their streams and TTL, indexes,
topics, queues, subscriptions, the SES identity, the state machine); puts the stage's keys,
secrets and the admin's password in its SSM (scripts/create-secrets.py, as `run.py up` does);
writes env.json with every function's environment as the template resolves it, its
AWS_ENDPOINT_URL (the template's EndpointUrl parameter) being http://DOCKER_HOST:PORT, moto as a
container sees it; prints the `sam build` and `sam local start-api` commands to run next, and
serves until Ctrl-C. --once stops after writing env.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402
from template_resources import REGION, Emulation  # noqa: E402

ROOT = run.ROOT
DEFAULT_PORT = 5050  # not 5000 (moto's own default): macOS's AirPlay receiver holds that one
DOCKER_HOST = "host.docker.internal"
# What the `sam local` process must have in its environment: SAM hands the function its own
# region and credentials (and ignores those keys in --env-vars), so moto's dummy credentials go
# here, and no profile or session token of a real account can reach a container.
SAM_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
SAM_UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN")


def parameters(stage: str, docker_endpoint: str, api_port: int) -> dict[str, str]:
    """The emulated suite's template parameters, for this stage, with moto as a container sees
    it and the welcome mail's link pointing at `sam local start-api`."""
    return {**run.parameters(), "Stage": stage, "EndpointUrl": docker_endpoint,
            "VerifyEmailUrl": f"http://127.0.0.1:{api_port}/users/verify-email?token=",
            "UnsubscribeUrl": f"http://127.0.0.1:{api_port}/notifications/unsubscribe?token=",
            "ReportEmail": "reports@milkrun.test"}


def start_moto(bind: str, port: int) -> str:
    """moto_serial.py on BIND:PORT (stopped by run.stop_children); answers its URL from here."""
    with socket.socket() as probe:
        try:
            probe.bind((bind, port))
        except OSError as error:
            raise SystemExit(f"cannot listen on {bind}:{port} ({error}); is another moto there? choose one with --port")
    serial = Path(__file__).resolve().parent / "moto_serial.py"
    log = ROOT / "target" / "sam-local-moto.log"
    log.parent.mkdir(exist_ok=True)
    server = run.spawn([sys.executable, str(serial), bind, str(port)], env={**os.environ, "MOTO_PORT": str(port)}, log=log)
    endpoint = f"http://{'127.0.0.1' if bind in ('0.0.0.0', '') else bind}:{port}"
    run.wait_http(f"{endpoint}/moto-api/", 30)
    if server.poll() is not None:
        raise SystemExit(f"moto stopped (exit {server.returncode}); see {log}")
    return endpoint


def provision(endpoint: str, params: dict[str, str]) -> dict[str, dict[str, str]]:
    """The template's resources and the stage's secrets in moto; answers env.json's content:
    each function's environment (logical id → variables) as the template resolves it."""
    emulation = Emulation(endpoint, params)
    emulation.create_all()
    run.create_secrets(emulation)
    return {logical: spec["env"] for logical, spec in emulation.functions().items()}


def start_api_args(env_file: str, stage: str, docker_endpoint: str, api_port: int, add_host: bool) -> list[str]:
    """`sam local start-api` as it must run (with SAM_ENV set and SAM_UNSET unset). EndpointUrl
    makes the template declare AWS_ENDPOINT_URL: sam local drops any --env-vars variable the
    template does not declare."""
    args = [".venv/bin/sam", "local", "start-api", "--env-vars", env_file, "--region", REGION,
            "--port", str(api_port), "--parameter-overrides", f"Stage={stage} EndpointUrl={docker_endpoint}"]
    if add_host:
        # Docker Desktop resolves host.docker.internal itself; Linux's Docker Engine needs this.
        args += ["--add-host", f"{DOCKER_HOST}:host-gateway"]
    return args


def shell_line(args: list[str]) -> str:
    unset = " ".join(f"-u {name}" for name in SAM_UNSET)
    assignments = " ".join(f"{name}={value}" for name, value in SAM_ENV.items())
    return f"env {unset} {assignments} {shlex.join(args)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"moto's port (default {DEFAULT_PORT})")
    parser.add_argument("--bind", default="0.0.0.0",
                        help="address moto listens on (default 0.0.0.0: every interface, Docker's bridge included)")
    parser.add_argument("--docker-host", default=DOCKER_HOST,
                        help=f"moto's host as a container sees it (default {DOCKER_HOST}; on Linux e.g. 172.17.0.1)")
    parser.add_argument("--api-port", type=int, default=3000, help="the port sam local start-api will serve on (default 3000)")
    parser.add_argument("--stage", default="dev", choices=["dev", "prod"])
    parser.add_argument("--env-file", default="env.json", help="where to write the environments (default env.json)")
    parser.add_argument("--once", "--no-wait", action="store_true", help="set up, write the env file and exit (moto stops)")
    args = parser.parse_args(argv)

    docker_endpoint = f"http://{args.docker_host}:{args.port}"
    if args.bind.startswith("127.") and args.docker_host != args.bind:
        print(f"warning: moto listens on {args.bind} only; a container reaches it at {args.docker_host} "
              "only on Docker's host network", file=sys.stderr)
    env_file = Path(args.env_file)
    env_file = env_file if env_file.is_absolute() else Path.cwd() / env_file
    shown = str(env_file.relative_to(ROOT)) if env_file.is_relative_to(ROOT) else str(env_file)
    try:
        endpoint = start_moto(args.bind, args.port)
        environments = provision(endpoint, parameters(args.stage, docker_endpoint, args.api_port))
        env_file.write_text(json.dumps(environments, indent=2, sort_keys=True) + "\n")
        start_api = start_api_args(shown, args.stage, docker_endpoint, args.api_port, add_host=args.docker_host == DOCKER_HOST)
        print(f"""
moto (template.yaml's resources, the {args.stage} stage's secrets) on {endpoint}; containers reach it at {docker_endpoint}
{shown}: the environment of each of the template's {len(environments)} functions
admin: {run.ADMIN_EMAIL} / {run.ADMIN_PASSWORD}

From the repository root, with Docker running:
  PATH="$PWD/.venv/bin:$PATH" .venv/bin/sam build
  {shell_line(start_api)}
then http://127.0.0.1:{args.api_port}/docs. Only the HTTP routes run: queues, streams, schedules and the
checkout state machine do not (scripts/emulated/run.py up runs those, without Docker).""", flush=True)
        if args.once:
            return 0
        print(f"serving moto until Ctrl-C (log: {(ROOT / 'target' / 'sam-local-moto.log').relative_to(ROOT)})", flush=True)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    finally:
        run.stop_children()


if __name__ == "__main__":
    sys.exit(main())
