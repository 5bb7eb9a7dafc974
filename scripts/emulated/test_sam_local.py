"""sam_local.py sets up what `sam local start-api` needs, and sam would hand it on as meant.

Everything but Docker: against a moto of its own on a free port, the setup writes env.json,
then
  - env.json has an entry for every AWS::Serverless::Function of template.yaml, whose
    variables are exactly the ones the template declares for it (Globals and its own), each
    with a value, AWS_ENDPOINT_URL being moto as a container sees it;
  - every table, topic, queue, state machine, SES sender and SSM parameter env.json names
    exists in moto;
  - SAM CLI's own code (the template's functions as `sam local` reads them, and the
    environment it gives each container) run with the printed command's --region,
    --parameter-overrides and environment gives every function env.json's values, moto's
    endpoint, its region and the dummy credentials: sam drops --env-vars variables the
    template does not declare, and takes the region and credentials from its own shell;
  - the command line itself (`sam-local.py --once`) writes the same env.json and prints the
    command.

Usage: test_sam_local.py   (plain script; exits non-zero on failure)
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run  # noqa: E402
import sam_local  # noqa: E402
from template_resources import REGION, Emulation, load_template  # noqa: E402

ROOT = run.ROOT


def declared() -> dict[str, set[str]]:
    """Each function's variable names, read from template.yaml itself (Globals and its own)."""
    template = load_template()
    shared = set(template["Globals"]["Function"]["Environment"]["Variables"])
    return {name: shared | set(resource.get("Properties", {}).get("Environment", {}).get("Variables", {}))
            for name, resource in template["Resources"].items() if resource["Type"] == "AWS::Serverless::Function"}


def check_resources(emulation: Emulation, environments: dict[str, dict[str, str]]) -> int:
    """Every resource a variable names exists in moto; answers how many were checked."""
    dynamodb, sns, sqs = emulation.client("dynamodb"), emulation.client("sns"), emulation.client("sqs")
    sfn, ssm, ses = emulation.client("stepfunctions"), emulation.client("ssm"), emulation.client("ses")
    tables = set(dynamodb.list_tables()["TableNames"])
    topics = {t["TopicArn"] for t in sns.list_topics()["Topics"]}
    queues = set(sqs.list_queues().get("QueueUrls", []))
    queue_arns = {sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] for q in queues}
    machines = {m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    identities = set(ses.list_identities()["Identities"])
    checked = 0
    for function, env in environments.items():
        for name, value in env.items():
            where = f"{function} {name}={value}"
            if name.endswith("_TABLE"):
                assert value in tables, f"{where}: no such table in moto"
            elif name.endswith("_PARAMETER"):
                assert ssm.get_parameter(Name=value, WithDecryption=True)["Parameter"]["Value"], f"{where}: empty"
            elif name.endswith("_QUEUE_URL"):
                assert value in queues, f"{where}: no such queue in moto"
            elif name == "MAIL_FROM":
                assert value in identities, f"{where}: not an SES identity in moto"
            elif value.startswith("arn:"):
                service = value.split(":")[2]
                known = {"sns": topics, "states": machines, "sqs": queue_arns}
                assert service in known, f"{where}: an ARN this test does not check; add its service"
                assert value in known[service], f"{where}: not in moto"
            else:
                continue
            checked += 1
    return checked


def sam_environments(env_file: Path, args: list[str]) -> dict[str, dict[str, str]]:
    """The environment `sam local` gives each function's container, by SAM CLI's own code, run
    with the options and shell environment of the printed `sam local start-api` command."""
    from samcli.cli.types import CfnParameterOverridesType
    from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    option = lambda name: args[args.index(name) + 1]
    overrides = CfnParameterOverridesType().convert(option("--parameter-overrides"), None, None)
    region = option("--region")
    stacks, _ = SamLocalStackProvider.get_stacks(str(ROOT / "template.yaml"), parameter_overrides=overrides,
                                                 global_parameter_overrides={"AWS::Region": region})
    provider = SamFunctionProvider(stacks, ignore_code_extraction_warnings=True)
    saved = dict(os.environ)
    try:
        for name in sam_local.SAM_UNSET:
            os.environ.pop(name, None)
        os.environ.update(sam_local.SAM_ENV)
        runner = LocalLambdaRunner(None, provider, str(ROOT), str(ROOT), aws_region=region,
                                   env_vars_values=json.loads(env_file.read_text()))
        return {function.name: runner._make_env_vars(function).resolve() for function in provider.get_all()}
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main() -> int:
    started = time.time()
    port, api_port = run.free_port(), 3999
    docker_endpoint = f"http://{sam_local.DOCKER_HOST}:{port}"
    try:
        endpoint = sam_local.start_moto("127.0.0.1", port)
        params = sam_local.parameters("dev", docker_endpoint, api_port)
        environments = sam_local.provision(endpoint, params)
        with tempfile.TemporaryDirectory() as scratch:
            env_file = Path(scratch) / "env.json"
            env_file.write_text(json.dumps(environments))
            functions = declared()
            assert set(environments) == set(functions), f"functions: {set(environments) ^ set(functions)}"
            for function, names in functions.items():
                env = environments[function]
                # A variable the template does not declare would never reach the function.
                assert set(env) == names, f"{function}: {sorted(set(env) ^ names)}"
                assert all(value.strip() for value in env.values()), f"{function}: an empty value {env}"
                assert env["AWS_ENDPOINT_URL"] == docker_endpoint, env
            emulation = Emulation(endpoint, params)
            checked = check_resources(emulation, environments)

            args = sam_local.start_api_args(str(env_file), "dev", docker_endpoint, api_port, add_host=True)
            assert args[args.index("--add-host") + 1] == "host.docker.internal:host-gateway", args
            containers = sam_environments(env_file, args)
            for function, env in environments.items():
                container = containers[function]
                expected = {**env, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, **sam_local.SAM_ENV}
                wrong = {k: (container.get(k), v) for k, v in expected.items() if container.get(k) != v}
                assert not wrong, f"sam local would give {function} (got, meant): {wrong}"
                assert "AWS_SESSION_TOKEN" not in container, function
            print(f"sam-local: {len(environments)} functions' environments as sam local hands them on; "
                  f"{checked} resources they name exist in moto", flush=True)
    finally:
        run.stop_children()

    # The command line, end to end: sets up its own moto, writes env.json, prints the command, exits.
    cli_port = run.free_port()
    with tempfile.TemporaryDirectory() as scratch:
        env_file = Path(scratch) / "env.json"
        done = subprocess.run([sys.executable, str(ROOT / "scripts" / "sam-local.py"), "--once", "--bind", "127.0.0.1",
                               "--port", str(cli_port), "--api-port", str(api_port), "--env-file", str(env_file)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        written = json.loads(env_file.read_text())
        same = lambda env: {k: v.replace(str(cli_port), str(port)) for k, v in env.items()}
        assert {f: same(env) for f, env in written.items()} == environments, "the command line wrote another env.json"
        line = next(line.strip() for line in done.stdout.splitlines() if "sam local start-api" in line)
        printed = shlex.split(line)
        assert printed[printed.index("--env-vars") + 1] == str(env_file), line
        assert f"EndpointUrl=http://host.docker.internal:{cli_port}" in printed[printed.index("--parameter-overrides") + 1], line
        assert re.search(r"sam build$", done.stdout, re.M), done.stdout
    print(f"sam-local: sam-local.py --once wrote env.json and printed the commands ({time.time() - started:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
