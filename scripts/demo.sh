#!/usr/bin/env bash
# The main job on an embedded default, with no AWS account: build the tool, start the local AWS
# emulator, seed a CloudTrail log bucket (which already notifies someone else's queue), run a
# real `taegis-cloudtrail deploy` with the demo inputs from assets/, run it again to show that
# a re-run changes nothing, and show what the account now holds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

say "building taegis-cloudtrail"
cargo build --locked --quiet
tool="$PWD/target/debug/taegis-cloudtrail"

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
import os, boto3
kw = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
s3 = boto3.client("s3", **kw)
s3.create_bucket(Bucket="demo-cloudtrail-logs")
s3.put_object(Bucket="demo-cloudtrail-logs", Key="AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/30/demo.json.gz", Body=b"{}")
s3.put_bucket_notification_configuration(
    Bucket="demo-cloudtrail-logs",
    NotificationConfiguration={"QueueConfigurations": [{
        "Id": "audit-deletions",
        "QueueArn": "arn:aws:sqs:us-east-1:123456789012:audit",
        "Events": ["s3:ObjectRemoved:*"],
    }]},
)
print("bucket demo-cloudtrail-logs with one notification entry: audit-deletions (SQS)")
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
"$tool" "${args[@]}" --output json --quiet | "$PY" -c 'import json,sys; d=json.load(sys.stdin); t=d["targets"][0]; print("outcome:", t["outcome"], "| function:", t["function_name"])'

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
for kind in ("QueueConfigurations", "LambdaFunctionConfigurations"):
    for e in n.get(kind, []):
        print(f"notification {e['Id']}: {kind[:-14]} {e['Events']} {json.dumps(e.get('Filter', {}))}")
PY
