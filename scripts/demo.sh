#!/usr/bin/env bash
# The main job on an embedded default, with no AWS account: build the tool, start the local AWS
# emulator, seed a CloudTrail log bucket (which already notifies someone else's queue), run a
# real `taegis-cloudtrail deploy` with the demo inputs from assets/, run it again to show that
# a re-run changes nothing, and show what the account now holds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

# TAEGIS_BIN: a binary already built (CI runs the demo on the one its tests used).
if [[ -n "${TAEGIS_BIN:-}" ]]; then
    tool="$(cd "$(dirname "$TAEGIS_BIN")" && pwd)/$(basename "$TAEGIS_BIN")"
else
    say "building taegis-cloudtrail (the first build takes about ten minutes)"
    cargo build --locked --quiet
    tool="$PWD/target/debug/taegis-cloudtrail"
fi

PY="$(scripts/emulator-venv.sh | tail -n1)"
work="$(mktemp -d)"
emulator_pid=""
cleanup() {
    [[ -n "$emulator_pid" ]] && kill "$emulator_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

say "starting the local AWS emulator"
"$PY" tests/emulator/taegis_moto.py --host 127.0.0.1 --port 0 --parent-pid $$ >"$work/emulator.out" 2>/dev/null &
emulator_pid=$!
for _ in $(seq 100); do
    grep -q '^ready' "$work/emulator.out" 2>/dev/null && break
    sleep 0.1
done
port="$(sed -n 's/^port //p' "$work/emulator.out")"
[[ -n "$port" ]] || { echo "the emulator did not start" >&2; exit 1; }
endpoint="http://127.0.0.1:$port"
echo "emulator at $endpoint" >&2

# Static test credentials and nothing from this machine's own AWS set-up.
export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
export AWS_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_EC2_METADATA_DISABLED=true TAEGIS_POLL_INTERVAL=200ms

say "seeding a CloudTrail bucket that already sends deletions to an SQS queue"
"$PY" - <<'PY'
import json, os, boto3
kw = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
s3 = boto3.client("s3", **kw)
sqs = boto3.client("sqs", **kw)
bucket = "demo-cloudtrail-logs"
s3.create_bucket(Bucket=bucket)
s3.put_object(Bucket=bucket, Key="AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/30/demo.json.gz", Body=b"{}")
# A real neighbour: the audit team's queue, whose policy lets S3 deliver this bucket's events
# (S3 checks every destination of the configuration on every write, as AWS does).
queue_url = sqs.create_queue(QueueName="audit-deletions")["QueueUrl"]
queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
    }],
})})
s3.put_bucket_notification_configuration(
    Bucket=bucket,
    NotificationConfiguration={"QueueConfigurations": [{
        "Id": "audit-deletions",
        "QueueArn": queue_arn,
        "Events": ["s3:ObjectRemoved:*"],
    }]},
)
print(f"bucket {bucket} with one notification entry: audit-deletions (SQS queue {queue_arn})")
PY

python3 assets/make-demo-zip.py "$work/taegis-lambda-amd64.zip" >/dev/null
args=(deploy
    --credentials assets/credentials.demo.txt
    --taegis-region foxtrot
    --lambda-zip "$work/taegis-lambda-amd64.zip"
    --notification-bucket demo-cloudtrail-logs
    --prefix AWSLogs/
    --yes)

say "taegis-cloudtrail deploy --dry-run (the plan, nothing changes)"
"$tool" "${args[@]}" --dry-run

say "taegis-cloudtrail deploy"
"$tool" "${args[@]}"

say "taegis-cloudtrail deploy, again (safe to re-run: nothing to change)"
"$tool" "${args[@]}" --output json --quiet | "$PY" -c '
import json, sys
t = json.load(sys.stdin)["targets"][0]
print("outcome:", t["outcome"], "| function:", t["function_name"])
sys.exit(0 if t["outcome"] == "unchanged" else "the re-run was expected to change nothing")'

say "what the account holds now"
"$PY" - <<'PY'
import os, json, boto3
kw = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
cfn = boto3.client("cloudformation", **kw)
for s in cfn.describe_stacks()["Stacks"]:
    print(f"stack {s['StackName']}: {s['StackStatus']}")
fn = boto3.client("lambda", **kw).get_function(FunctionName="taegis-cloudtrail-scwx-tdr-lambda-awscloudtrail")
c = fn["Configuration"]
print(f"function {c['FunctionName']}: runtime {c['Runtime']}, reserved concurrency {fn['Concurrency']['ReservedConcurrentExecutions']}")
n = boto3.client("s3", **kw).get_bucket_notification_configuration(Bucket="demo-cloudtrail-logs")
ids = []
for kind in ("QueueConfigurations", "LambdaFunctionConfigurations"):
    for e in n.get(kind, []):
        ids.append(e["Id"])
        print(f"notification {e['Id']}: {kind[:-14]} {e['Events']} {json.dumps(e.get('Filter', {}))}")
if "audit-deletions" not in ids or len(ids) != 2:
    raise SystemExit(f"expected the audit queue's entry and ours, found {ids}")
PY
