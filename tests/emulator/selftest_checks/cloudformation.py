"""Checks of (o) templates over the inline limit and TemplateURL, (r) capabilities, (s) pages
of stack events and exports, (t) queue and topic policy resources."""

from __future__ import annotations

import json
import time

from .common import (
    REGION,
    SHARED_PARAMS,
    Account,
    bucket_in,
    bundled,
    events_of,
    expect_error,
    lambda_params,
    outputs,
    params,
    reset_behaviour,
    set_behaviour,
    stack,
    wait_stack,
)
from .s3 import UNABLE, error_pairs


# ------------------------------------------------------------------------------------ templates

INLINE_LIMIT = "1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to 51200"


def padded_lambda_template(marker: str) -> str:
    """The bundled Lambda template with a Metadata blob that takes it over 51,200 bytes."""
    lines = "".join(f"    - '{marker} line {i:04d} {'x' * 80}'\n" for i in range(560))
    body = bundled("lambda-template").replace("\nMetadata:\n", f"\nMetadata:\n  TaegisPadding:\n{lines}", 1)
    assert len(body.encode()) > 51_200, len(body)
    return body


def check_inline_limit_and_template_url(acct: Account) -> None:
    """(o) TemplateBody over 51,200 bytes refused; TemplateURL forms, errors, updates (sync)."""
    cfn, s3 = acct.client("cloudformation"), acct.client("s3")
    big, big2 = padded_lambda_template("one"), padded_lambda_template("two")
    bucket = bucket_in(acct, REGION, f"tu-{acct.id}")
    s3.put_object(Bucket=bucket, Key="t/big.yaml", Body=big.encode())
    s3.put_object(Bucket=bucket, Key="t/big2.yaml", Body=big2.encode())
    cfn.create_stack(StackName="taegis-shared", TemplateBody=bundled("shared-resources"), Parameters=SHARED_PARAMS)
    for call in (
        lambda: cfn.create_stack(StackName="inline", TemplateBody=big, Parameters=lambda_params(bucket)),
        lambda: cfn.update_stack(StackName="taegis-shared", TemplateBody=big, Parameters=lambda_params(bucket)),
        lambda: cfn.validate_template(TemplateBody=big),
    ):
        exc = expect_error(call, "ValidationError", INLINE_LIMIT, 400)
        assert exc.response["Error"]["Message"] == INLINE_LIMIT, exc.response["Error"]
    expect_error(lambda: cfn.describe_stacks(StackName="inline"), "ValidationError", "does not exist")
    small = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n# é"  # the limit counts bytes
    at_limit = small + "x" * (51_200 - len(small.encode()))
    cfn.validate_template(TemplateBody=at_limit)
    expect_error(lambda: cfn.validate_template(TemplateBody=at_limit + "x"), "ValidationError", INLINE_LIMIT, 400)

    virtual, legacy, path = (
        f"https://{bucket}.s3.{REGION}.amazonaws.com/t/big.yaml",
        f"https://{bucket}.s3.amazonaws.com/t/big.yaml",
        f"https://s3.{REGION}.amazonaws.com/{bucket}/t/big2.yaml",
    )
    for name, url in (("by-virtual", virtual), ("by-legacy", legacy), ("by-path", path)):
        sid = cfn.create_stack(StackName=name, TemplateURL=url, Parameters=lambda_params(bucket, "2"), Capabilities=["CAPABILITY_IAM"])["StackId"]
        assert stack(cfn, sid)["StackStatus"] == "CREATE_COMPLETE", (name, stack(cfn, sid))
        assert cfn.get_template(StackName=sid)["TemplateBody"] == (big2 if url == path else big), name
    # UpdateStack: the same template at another URL is a no-op; another template is an update.
    expect_error(
        lambda: cfn.update_stack(StackName="by-virtual", TemplateURL=legacy, Parameters=lambda_params(bucket, "2"), Capabilities=["CAPABILITY_IAM"]),
        "ValidationError", "No updates are to be performed.",
    )
    cfn.update_stack(StackName="by-virtual", TemplateURL=path, Parameters=lambda_params(bucket, "3"), Capabilities=["CAPABILITY_IAM"])
    assert stack(cfn, "by-virtual")["StackStatus"] == "UPDATE_COMPLETE"
    assert cfn.get_template(StackName="by-virtual")["TemplateBody"] == big2
    assert acct.client("lambda").get_function_concurrency(FunctionName="by-virtual-scwx-tdr-lambda-generic")["ReservedConcurrentExecutions"] == 3
    check_template_url_refusals(acct, bucket)


def check_template_url_refusals(acct: Account, bucket: str) -> None:
    cfn = acct.client("cloudformation")
    eu = bucket_in(acct, "eu-west-1", f"tu-eu-{acct.id}")
    acct.client("s3", "eu-west-1").put_object(Bucket=eu, Key="t.yaml", Body=bundled("shared-resources").encode())
    more = "\nFor more information check http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"
    wrong_endpoint = (
        "S3 error: The bucket you are attempting to access must be addressed using the specified endpoint. "
        "Please send all future requests to this endpoint." + more
    )
    for url, message in (
        (f"https://{bucket}.s3.amazonaws.com/t/missing.yaml", "S3 error: Access Denied" + more),
        (f"https://s3.{REGION}.amazonaws.com/no-such-bucket-{acct.id}/t.yaml", "S3 error: The specified bucket does not exist" + more),
        (f"https://{eu}.s3.eu-west-1.amazonaws.com/t.yaml", wrong_endpoint),  # bucket in another region
        (f"https://s3.eu-west-1.amazonaws.com/{bucket}/t/big.yaml", wrong_endpoint),  # URL names another region
        (f"https://example.com/{bucket}/t/big.yaml", "TemplateURL must be a supported URL."),
        (f"s3://{bucket}/t/big.yaml", "TemplateURL must be a supported URL."),
    ):
        for call in (
            lambda: cfn.create_stack(StackName="refused", TemplateURL=url, Parameters=SHARED_PARAMS),
            lambda: cfn.update_stack(StackName="taegis-shared", TemplateURL=url, Parameters=SHARED_PARAMS),
        ):
            exc = expect_error(call, "ValidationError", None, 400)
            assert exc.response["Error"]["Message"] == message, (url, exc.response["Error"])
    expect_error(lambda: cfn.describe_stacks(StackName="refused"), "ValidationError", "does not exist")
    assert stack(cfn, "taegis-shared")["StackStatus"] == "CREATE_COMPLETE"


def check_template_url_async(acct: Account) -> None:
    """(o) TemplateURL with stack_seconds: background create/update, no-op update, GetTemplate."""
    cfn = acct.client("cloudformation")
    big, big2 = padded_lambda_template("async one"), padded_lambda_template("async two")
    bucket = bucket_in(acct, REGION, f"ta-{acct.id}")
    acct.client("s3").put_object(Bucket=bucket, Key="big.yaml", Body=big.encode())
    acct.client("s3").put_object(Bucket=bucket, Key="big2.yaml", Body=big2.encode())
    set_behaviour(acct, stack_seconds=3.0)  # long enough to be seen in progress on a loaded machine
    sid = cfn.create_stack(StackName="taegis-shared", TemplateBody=bundled("shared-resources"), Parameters=SHARED_PARAMS)["StackId"]
    assert wait_stack(cfn, sid)["StackStatus"] == "CREATE_COMPLETE"
    url = f"https://{bucket}.s3.{REGION}.amazonaws.com/big.yaml"
    sid = cfn.create_stack(StackName="slow-url", TemplateURL=url, Parameters=lambda_params(bucket), Capabilities=["CAPABILITY_IAM"])["StackId"]
    assert stack(cfn, sid)["StackStatus"] == "CREATE_IN_PROGRESS"
    assert wait_stack(cfn, sid)["StackStatus"] == "CREATE_COMPLETE"
    assert cfn.get_template(StackName=sid)["TemplateBody"] == big
    expect_error(
        lambda: cfn.update_stack(StackName=sid, TemplateURL=f"https://s3.amazonaws.com/{bucket}/big.yaml", Parameters=lambda_params(bucket), Capabilities=["CAPABILITY_IAM"]),
        "ValidationError", "No updates are to be performed.",
    )
    cfn.update_stack(StackName=sid, TemplateURL=f"https://s3.{REGION}.amazonaws.com/{bucket}/big2.yaml", Parameters=lambda_params(bucket, "4"), Capabilities=["CAPABILITY_IAM"])
    assert stack(cfn, sid)["StackStatus"] == "UPDATE_IN_PROGRESS", stack(cfn, sid)["StackStatus"]
    assert cfn.get_template(StackName=sid)["TemplateBody"] == big2
    assert wait_stack(cfn, sid)["StackStatus"] == "UPDATE_COMPLETE"
    assert cfn.get_template(StackName=sid)["TemplateBody"] == big2
    assert acct.client("lambda").get_function_concurrency(FunctionName="slow-url-scwx-tdr-lambda-generic")["ReservedConcurrentExecutions"] == 4
    reset_behaviour(acct)


# ------------------------------------------------------------------------------------ capabilities

ROLE = "  Role:\n    Type: AWS::IAM::Role\n    Properties:\n{name}      AssumeRolePolicyDocument: {{Version: '2012-10-17', Statement: []}}\n"
TOPIC_ONLY = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"


def check_capabilities(acct: Account) -> None:
    """(r) IAM resources need CAPABILITY_IAM, named ones CAPABILITY_NAMED_IAM."""
    cfn = acct.client("cloudformation")
    unnamed = TOPIC_ONLY + ROLE.format(name="")
    named = TOPIC_ONLY + ROLE.format(name=f"      RoleName: named-{acct.id}\n")
    managed = TOPIC_ONLY + (
        "  Managed:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      ManagedPolicyName: mine\n"
        "      PolicyDocument: {Version: '2012-10-17', Statement: [{Effect: Allow, Action: 's3:GetObject', Resource: '*'}]}\n"
    )
    inline = unnamed + (  # an inline policy's PolicyName names nothing on its own
        "  Inline:\n    Type: AWS::IAM::Policy\n    Properties:\n      PolicyName: inline\n      Roles: [!Ref Role]\n"
        "      PolicyDocument: {Version: '2012-10-17', Statement: [{Effect: Allow, Action: 's3:GetObject', Resource: '*'}]}\n"
    )
    iam, named_iam = "Requires capabilities : [CAPABILITY_IAM]", "Requires capabilities : [CAPABILITY_NAMED_IAM]"
    for body, caps, message in (
        (unnamed, [], iam), (inline, [], iam), (named, [], named_iam), (named, ["CAPABILITY_IAM"], named_iam),
        (managed, ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"], named_iam),
    ):
        exc = expect_error(lambda: cfn.create_stack(StackName="caps", TemplateBody=body, Capabilities=caps), "InsufficientCapabilitiesException", None, 400)
        assert exc.response["Error"]["Message"] == message and exc.response["Error"].get("Type") == "Sender", exc.response["Error"]
        expect_error(lambda: cfn.create_change_set(StackName="caps", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=body, Capabilities=caps),
                     "InsufficientCapabilitiesException", message, 400)
    expect_error(lambda: cfn.describe_stacks(StackName="caps"), "ValidationError", "does not exist")
    cfn.create_stack(StackName="caps-named", TemplateBody=named, Capabilities=["CAPABILITY_NAMED_IAM"])
    cfn.create_stack(StackName="caps-inline", TemplateBody=inline, Capabilities=["CAPABILITY_IAM"])
    cfn.create_stack(StackName="caps", TemplateBody=TOPIC_ONLY)  # nothing needed
    expect_error(lambda: cfn.update_stack(StackName="caps", TemplateBody=unnamed), "InsufficientCapabilitiesException", iam, 400)
    assert stack(cfn, "caps")["StackStatus"] == "CREATE_COMPLETE"
    cfn.update_stack(StackName="caps", TemplateBody=unnamed, Capabilities=["CAPABILITY_NAMED_IAM"])
    assert stack(cfn, "caps")["StackStatus"] == "UPDATE_COMPLETE"
    # UsePreviousTemplate: the stack's template decides (and comes before "No updates").
    expect_error(lambda: cfn.update_stack(StackName="caps", UsePreviousTemplate=True), "InsufficientCapabilitiesException", iam, 400)
    expect_error(lambda: cfn.update_stack(StackName="caps", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"]), "ValidationError", "No updates are to be performed.")
    expect_error(lambda: cfn.create_change_set(StackName="caps", ChangeSetName="u", ChangeSetType="UPDATE", UsePreviousTemplate=True),
                 "InsufficientCapabilitiesException", iam, 400)


# ------------------------------------------------------------------------------------ pages

PARAM_STACK = """
Parameters:
  Value:
    Type: String
Resources:
  Param:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub '${AWS::StackName}-value'
      Type: String
      Value: !Ref Value
"""


def check_stack_event_and_export_pages(acct: Account) -> None:
    """(s) DescribeStackEvents: 100 per page, newest first, a token that resumes where it was;
    ListExports: 100 per page, each with ExportingStackId, Name and Value."""
    cfn = acct.client("cloudformation")
    value = lambda v: [{"ParameterKey": "Value", "ParameterValue": v}]  # noqa: E731
    sid = cfn.create_stack(StackName="chatty", TemplateBody=PARAM_STACK, Parameters=value("v0"))["StackId"]
    for i in range(1, 27):  # 4 events for the create, 5 for each update: 134
        cfn.update_stack(StackName="chatty", TemplateBody=PARAM_STACK, Parameters=value(f"v{i}"))
    first = cfn.describe_stack_events(StackName=sid)
    assert len(first["StackEvents"]) == 100 and first.get("NextToken"), (len(first["StackEvents"]), first.get("NextToken"))
    assert (first["StackEvents"][0]["LogicalResourceId"], first["StackEvents"][0]["ResourceStatus"]) == ("chatty", "UPDATE_COMPLETE")
    cfn.update_stack(StackName="chatty", TemplateBody=PARAM_STACK, Parameters=value("late"))  # 5 more meanwhile
    second = cfn.describe_stack_events(StackName=sid, NextToken=first["NextToken"])
    assert len(second["StackEvents"]) == 34 and not second.get("NextToken"), (len(second["StackEvents"]), second.get("NextToken"))
    assert second["StackEvents"][-1]["ResourceStatus"] == "CREATE_IN_PROGRESS", second["StackEvents"][-1]
    seen = [e["EventId"] for e in first["StackEvents"] + second["StackEvents"]]
    assert len(set(seen)) == 134, len(set(seen))
    stamps = [e["Timestamp"] for e in first["StackEvents"] + second["StackEvents"]]
    assert stamps == sorted(stamps, reverse=True)
    everything = [e["EventId"] for page in cfn.get_paginator("describe_stack_events").paginate(StackName=sid) for e in page["StackEvents"]]
    assert len(everything) == len(set(everything)) == 139 and set(seen) < set(everything), len(everything)
    expect_error(lambda: cfn.describe_stack_events(StackName=sid, NextToken="not-a-token"), "ValidationError", None, 400)

    outputs_yaml = "".join(f"  O{i:03d}:\n    Value: value-{i}\n    Export:\n      Name: !Sub '${{AWS::StackName}}-{i:03d}'\n" for i in range(130))
    eid = cfn.create_stack(StackName="exporter", TemplateBody=TOPIC_ONLY + "Outputs:\n" + outputs_yaml)["StackId"]
    page = cfn.list_exports()
    assert len(page["Exports"]) == 100 and page.get("NextToken"), len(page["Exports"])
    rest = cfn.list_exports(NextToken=page["NextToken"])
    assert len(rest["Exports"]) == 30 and not rest.get("NextToken"), len(rest["Exports"])
    exports = {e["Name"]: e for e in page["Exports"] + rest["Exports"]}
    assert len(exports) == 130 and exports["exporter-007"] == {"ExportingStackId": eid, "Name": "exporter-007", "Value": "value-7"}, exports.get("exporter-007")


# ------------------------------------------------------------------------------------ policy resources

S3_MAY_SEND = """
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {{Service: s3.amazonaws.com}}
            Action: {action}
            Resource: {resource}
            Condition:
              ArnLike: {{aws:SourceArn: !Sub 'arn:aws:s3:::${{Bucket}}'}}
              StringEquals: {{aws:SourceAccount: !Ref AWS::AccountId}}"""
POLICY_TARGETS = """
Parameters:
  Bucket: {Type: String}
Resources:
  Q:
    Type: AWS::SQS::Queue
    DeletionPolicy: Retain
    Properties: {QueueName: bkt-x1-audit}
  Spare:
    Type: AWS::SQS::Queue
    Properties: {QueueName: bkt-x1-spare}
  T:
    Type: AWS::SNS::Topic
    DeletionPolicy: Retain
    Properties: {TopicName: bkt-x1-alerts}
"""
QUEUE_TOPIC_POLICY_STACK = POLICY_TARGETS + """  QP:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Q, !Ref Spare]
      PolicyDocument:""" + S3_MAY_SEND.format(action="sqs:SendMessage", resource="!GetAtt Q.Arn") + """
  TP:
    Type: AWS::SNS::TopicPolicy
    Properties:
      Topics: [!Ref T]
      PolicyDocument:""" + S3_MAY_SEND.format(action="SNS:Publish", resource="!Ref T") + """
Outputs:
  QueuePolicy: {Value: !Ref QP}
  TopicPolicy: {Value: !GetAtt TP.Id}
"""
# The update: TP dropped; QP for Q alone, with a new document given as a JSON string.
QUEUE_V2_DOCUMENT = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "v2", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": "${Q.Arn}",
        "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::${Bucket}"}, "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"}},
    }],
})
QUEUE_POLICY_ONLY_STACK = POLICY_TARGETS + f"""  QP:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Q]
      PolicyDocument: !Sub '{QUEUE_V2_DOCUMENT}'
Outputs:
  QueuePolicy: {{Value: !Ref QP}}
"""


def check_queue_and_topic_policy_resources(acct: Account) -> None:
    """(t) AWS::SQS::QueuePolicy / AWS::SNS::TopicPolicy set, replace and remove the policies that
    S3 notifications are validated against (row p); Ref is the generated id."""
    s3, cfn, sqs, sns = acct.client("s3"), acct.client("cloudformation"), acct.client("sqs"), acct.client("sns")
    bucket = f"bkt-x1-{acct.id}"
    s3.create_bucket(Bucket=bucket)
    queue_arn = f"arn:aws:sqs:{REGION}:{acct.id}:bkt-x1-audit"
    topic_arn = f"arn:aws:sns:{REGION}:{acct.id}:bkt-x1-alerts"
    config = {
        "QueueConfigurations": [{"Id": "q", "QueueArn": queue_arn, "Events": ["s3:ObjectRemoved:*"]}],
        "TopicConfigurations": [{"Id": "t", "TopicArn": topic_arn, "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "reports/"}]}}}],
    }
    put = lambda: s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)  # noqa: E731
    refused = lambda: error_pairs(expect_error(put, "InvalidArgument", UNABLE, 400))  # noqa: E731
    queue_policy = lambda name: sqs.get_queue_attributes(  # noqa: E731
        QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"], AttributeNames=["Policy"]).get("Attributes", {}).get("Policy")
    topic_policy = lambda: json.loads(sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]["Policy"])  # noqa: E731
    assert refused() == [(topic_arn, "The destination topic does not exist"), (queue_arn, "The destination queue does not exist")]

    sid = cfn.create_stack(StackName="seed", TemplateBody=QUEUE_TOPIC_POLICY_STACK, Parameters=params(Bucket=bucket))["StackId"]
    st = stack(cfn, sid)
    assert st["StackStatus"] == "CREATE_COMPLETE", (st["StackStatus"], events_of(cfn, sid))
    put()  # what was refused with the policies unset
    assert [len(s3.get_bucket_notification_configuration(Bucket=bucket)[k]) for k in ("QueueConfigurations", "TopicConfigurations")] == [1, 1]
    expected = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": queue_arn,
            "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}, "StringEquals": {"aws:SourceAccount": acct.id}},
        }],
    }
    assert json.loads(queue_policy("bkt-x1-audit")) == expected, queue_policy("bkt-x1-audit")
    assert json.loads(queue_policy("bkt-x1-spare")) == expected  # every queue listed
    expected["Statement"][0].update(Action="SNS:Publish", Resource=topic_arn)
    assert topic_policy() == expected, topic_policy()
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in cfn.describe_stack_resources(StackName=sid)["StackResources"]}
    assert physical["QP"].startswith("seed-QP-") and physical["TP"].startswith("seed-TP-"), physical
    assert outputs(st) == {"QueuePolicy": physical["QP"], "TopicPolicy": physical["TP"]}, outputs(st)
    summaries = {r["LogicalResourceId"]: r for r in cfn.list_stack_resources(StackName=sid)["StackResourceSummaries"]}
    assert summaries["TP"]["ResourceType"] == "AWS::SNS::TopicPolicy" and summaries["TP"]["ResourceStatus"] == "CREATE_COMPLETE", summaries["TP"]

    # Update in the background: TP removed, QP for Q alone with a new document (a JSON string).
    set_behaviour(acct, stack_seconds=1.0)
    cfn.update_stack(StackName="seed", TemplateBody=QUEUE_POLICY_ONLY_STACK, Parameters=params(Bucket=bucket))
    while stack(cfn, sid)["StackStatus"].endswith("_IN_PROGRESS"):
        during = {r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName=sid)["StackResources"]}
        assert during["QP"]["PhysicalResourceId"] == physical["QP"], during["QP"]  # updated in place, never replaced
        time.sleep(0.05)
    st = stack(cfn, sid)
    assert st["StackStatus"] == "UPDATE_COMPLETE", (st["StackStatus"], events_of(cfn, sid))
    assert outputs(st) == {"QueuePolicy": physical["QP"]}, outputs(st)
    assert ("TP", "DELETE_COMPLETE") in [e[:2] for e in events_of(cfn, sid)]
    assert [s["Sid"] for s in json.loads(queue_policy("bkt-x1-audit"))["Statement"]] == ["v2"], queue_policy("bkt-x1-audit")
    assert queue_policy("bkt-x1-spare") is None  # no longer listed
    assert topic_policy()["Id"] == "__default_policy_ID", topic_policy()  # the policy a new topic has
    assert refused() == [(topic_arn, "Permissions on the destination topic do not allow S3 to publish notifications from this bucket")]

    # Delete (background): the retained queue and topic stay, without the stack's policies.
    set_behaviour(acct, stack_seconds=4.0)  # long enough to be seen in progress on a busy machine
    cfn.delete_stack(StackName="seed")
    assert stack(cfn, sid)["StackStatus"] == "DELETE_IN_PROGRESS"
    st = wait_stack(cfn, sid)
    assert st["StackStatus"] == "DELETE_COMPLETE", (st["StackStatus"], events_of(cfn, sid))
    reset_behaviour(acct)
    assert queue_policy("bkt-x1-audit") is None
    expect_error(lambda: sqs.get_queue_url(QueueName="bkt-x1-spare"), "AWS.SimpleQueueService.NonExistentQueue")
    assert topic_policy()["Id"] == "__default_policy_ID", topic_policy()
    assert refused() == [
        (topic_arn, "Permissions on the destination topic do not allow S3 to publish notifications from this bucket"),
        (queue_arn, "Permissions on the destination queue do not allow S3 to publish notifications from this bucket"),
    ]
