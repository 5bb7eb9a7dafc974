"""Creates template.yaml's own resources in moto and computes each function's environment.

The tables, indexes, topics and mail identities come from the template itself, so the code
under test and the template cannot drift apart. Intrinsics are resolved the way
CloudFormation would for the handful this template uses (!Ref, !GetAtt, !Sub).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import boto3
import yaml

ROOT = Path(__file__).resolve().parents[2]
NO_VALUE = object()  # AWS::NoValue: the key it stands for is left out
REGION = "ap-south-1"
ACCOUNT = "123456789012"


class CfnLoader(yaml.SafeLoader):
    """PyYAML loader that keeps CloudFormation short-form tags as {"Fn": value} dicts."""


def _tag(name):
    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if name == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        key = "Ref" if name == "Ref" else f"Fn::{name}"
        return {key: value}

    return construct


for _name in ["Ref", "GetAtt", "Sub", "If", "Equals", "Join", "Select", "Split", "Not", "And", "Or", "FindInMap", "ImportValue", "Base64"]:
    CfnLoader.add_constructor(f"!{_name}", _tag(_name))


def load_template(path: Path = ROOT / "template.yaml") -> dict:
    return yaml.load(path.read_text(), Loader=CfnLoader)


class Emulation:
    def __init__(self, endpoint: str, parameters: dict[str, str], prefix: str = ""):
        self.endpoint = endpoint
        self.template = load_template()
        self.parameters = {
            name: str(spec.get("Default", "")) for name, spec in self.template.get("Parameters", {}).items()
        }
        self.parameters.update(parameters)
        self.parameters.update({"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                                "AWS::StackName": "milkrun-emulated"})
        self.prefix = prefix
        self.physical: dict[str, str] = {}
        self.arns: dict[str, str] = {}
        self.streams: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}

    def client(self, service: str):
        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )

    def resources(self, kind: str):
        return [(name, res.get("Properties", {})) for name, res in self.template["Resources"].items() if res["Type"] == kind]

    # ------------------------------------------------------------ intrinsics
    def condition(self, name: str) -> bool:
        return self.evaluate(self.template["Conditions"][name])

    def evaluate(self, expression) -> bool:
        (key, arg), = expression.items()
        if key == "Fn::Equals":
            return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
        if key == "Fn::Not":
            return not self.evaluate(arg[0])
        if key == "Condition":
            return self.condition(arg)
        raise ValueError(f"unsupported condition {key}")

    def resolve(self, value):
        if isinstance(value, dict) and len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                if arg == "AWS::NoValue":
                    return NO_VALUE
                if arg in self.parameters:
                    return self.parameters[arg]
                return self.physical[arg]
            if key == "Fn::If":
                name, then, otherwise = arg
                return self.resolve(then if self.condition(name) else otherwise)
            if key == "Fn::GetAtt":
                if arg[1] == "Arn":
                    return self.arns[arg[0]]
                if arg[1] == "StreamArn":
                    return self.streams[arg[0]]
                return self.attributes.get((arg[0], arg[1]), self.physical[arg[0]])
            if key == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub(m.group(1)), arg)
        if isinstance(value, dict):
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not NO_VALUE]
        return value

    def _sub(self, name: str) -> str:
        if "." in name:
            logical, attr = name.split(".", 1)
            return self.resolve({"Fn::GetAtt": [logical, attr]})
        return self.resolve({"Ref": name})

    # ------------------------------------------------------------ resources
    def create_tables(self):
        dynamodb = self.client("dynamodb")
        for name, props in self.resources("AWS::DynamoDB::Table"):
            table = f"{self.prefix}{name}"
            args = {
                "TableName": table,
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
                "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
            }
            if props.get("GlobalSecondaryIndexes"):
                args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            if props.get("StreamSpecification"):
                args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
            description = dynamodb.create_table(**args)["TableDescription"]
            if props.get("TimeToLiveSpecification"):
                dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification=props["TimeToLiveSpecification"])
            self.physical[name], self.arns[name] = table, description["TableArn"]
            if description.get("LatestStreamArn"):
                self.streams[name] = description["LatestStreamArn"]

    def table_env(self) -> dict[str, str]:
        """Each table's physical name under the variable the code reads (UsersTable → USERS_TABLE)."""
        return {re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper(): table
                for name, table in self.physical.items() if name.endswith("Table")}

    def create_topics(self):
        sns = self.client("sns")
        for name, props in self.resources("AWS::SNS::Topic"):
            topic = f"{self.prefix}{self.resolve(props.get('TopicName', name))}"
            arn = sns.create_topic(Name=topic)["TopicArn"]
            self.physical[name], self.arns[name] = arn, arn

    def create_queues(self):
        """Every queue first, then their redrive policies (which name other queues)."""
        sqs = self.client("sqs")
        queues = self.resources("AWS::SQS::Queue")
        for name, props in queues:
            queue = f"{self.prefix}{name}"
            url = sqs.create_queue(QueueName=queue)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.physical[name], self.arns[name] = url, arn
            self.attributes[(name, "QueueName")] = queue
        for name, props in queues:
            if "RedrivePolicy" in props:
                policy = self.resolve(props["RedrivePolicy"])
                sqs.set_queue_attributes(QueueUrl=self.physical[name], Attributes={"RedrivePolicy": json.dumps(policy)})

    def create_subscriptions(self):
        sns = self.client("sns")
        for _, props in self.resources("AWS::SNS::Subscription"):
            props = self.resolve(props)
            attributes = {"RawMessageDelivery": str(props.get("RawMessageDelivery", False)).lower()}
            # moto filters on the message attributes as SNS does (the eventType the bus sets).
            if "FilterPolicy" in props:
                attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
            sns.subscribe(TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"],
                          Attributes=attributes)

    def verify_mail_identities(self):
        ses = self.client("ses")
        for name, props in self.resources("AWS::SES::EmailIdentity"):
            identity = self.resolve(props["EmailIdentity"])
            ses.verify_email_identity(EmailAddress=identity)
            self.physical[name] = identity

    def create_state_machines(self):
        """Each state machine from its own definition file, with the template's
        DefinitionSubstitutions put in the way SAM does."""
        sfn = self.client("stepfunctions")
        for name, props in self.resources("AWS::Serverless::StateMachine"):
            definition = (ROOT / props["DefinitionUri"]).read_text()
            for key, value in self.resolve(props.get("DefinitionSubstitutions", {})).items():
                definition = definition.replace("${" + key + "}", str(value))
            machine = f"{self.prefix}{self.resolve(props.get('Name', name))}"
            arn = sfn.create_state_machine(
                name=machine, definition=definition, type=props.get("Type", "STANDARD"),
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/{machine}",
            )["stateMachineArn"]
            self.physical[name], self.arns[name] = arn, arn
            self.attributes[(name, "Name")] = machine

    def state_machine_tasks(self) -> list[str]:
        """The functions a state machine invokes (named in its DefinitionSubstitutions)."""
        named = []
        for _, props in self.resources("AWS::Serverless::StateMachine"):
            for value in props.get("DefinitionSubstitutions", {}).values():
                if isinstance(value, dict) and "Fn::GetAtt" in value:
                    named.append(value["Fn::GetAtt"][0])
        return named

    def create_all(self):
        self.create_tables()
        self.create_topics()
        self.create_queues()
        self.create_subscriptions()
        self.verify_mail_identities()
        for name, _ in self.resources("AWS::Serverless::Function"):
            self.physical[name] = name
            self.arns[name] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        self.create_state_machines()

    # ------------------------------------------------------------ functions
    def function_env(self, logical: str) -> dict[str, str]:
        globals_env = self.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        props = self.template["Resources"][logical]["Properties"]
        own = props.get("Environment", {}).get("Variables", {})
        merged = {**globals_env, **own}
        resolved = {k: self.resolve(v) for k, v in merged.items()}
        return {k: str(v) for k, v in resolved.items() if v is not NO_VALUE}

    def functions(self) -> dict[str, dict]:
        """Each function's binary name, environment, (method, path) routes, and the queues
        and streams that feed it (what Lambda's event source mappings do in AWS)."""
        result = {}
        for name, props in self.resources("AWS::Serverless::Function"):
            binary = self.template["Resources"][name]["Metadata"]["BuildProperties"]["Binary"]
            events = props.get("Events", {}).values()
            routes = [(ev["Properties"]["Method"].upper(), ev["Properties"]["Path"]) for ev in events if ev["Type"] == "Api"]
            queues = [ev["Properties"]["Queue"]["Fn::GetAtt"][0] for ev in events if ev["Type"] == "SQS"]
            streams = [
                {"table": ev["Properties"]["Stream"]["Fn::GetAtt"][0],
                 "failures": ev["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", {}).get("Fn::GetAtt", [None])[0],
                 "retries": ev["Properties"].get("MaximumRetryAttempts", 3)}
                for ev in events if ev["Type"] == "DynamoDB"
            ]
            result[name] = {"logical": name, "binary": binary, "env": self.function_env(name), "routes": routes,
                            "queues": queues, "streams": streams}
        return result


def main():
    """provision ENDPOINT PREFIX KEY=VALUE... → prints {resources, functions} as JSON."""
    endpoint, prefix, *pairs = sys.argv[1:]
    emulation = Emulation(endpoint, dict(p.split("=", 1) for p in pairs), prefix)
    emulation.create_all()
    json.dump({"physical": emulation.physical, "functions": emulation.functions()}, sys.stdout, indent=2)


if __name__ == "__main__":
    main()
