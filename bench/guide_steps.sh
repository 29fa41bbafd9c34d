#!/usr/bin/env bash
# The vendor guide's steps for one account and region, scripted with the AWS CLI the way a user
# would do it without taegis-cloudtrail. bench/cli_script.py runs it once per target, one target
# after another or 8 at a time, and reads the `bench-step NAME EPOCH` lines it prints on stdout
# (the moment each stack's deploy command exited).
#
#   guide_steps.sh ACCOUNT REGION NOTIFICATION_BUCKET PARAMS_DIR
#
# PARAMS_DIR holds the parameters the tool would send, made by the benchmark from a
# `taegis-cloudtrail deploy --dry-run --output json`: shared.json and lambda.json
# (CloudFormation parameter lists) and shared.overrides.json and lambda.overrides.json
# (["Key=Value", ...] for `aws cloudformation deploy --parameter-overrides`).
#
# Environment (set by bench/cli_script.py): the AWS credentials of the account, AWS_ENDPOINT_URL,
# AWS_CONFIG_FILE (path-style S3), and
#   GUIDE_ZIP GUIDE_ZIP_KEY GUIDE_SHARED_TEMPLATE GUIDE_LAMBDA_TEMPLATE GUIDE_SHARED_STACK
#   GUIDE_LAMBDA_STACK GUIDE_FUNCTION_NAME GUIDE_STATEMENT_ID GUIDE_ENTRY_ID GUIDE_PYTHON
#   GUIDE_CFN   deploy:       `aws cloudformation deploy` (a change set, then its 30 s waiter)
#               create-stack: describe-stacks, then create-stack or update-stack, then
#                             `aws cloudformation wait stack-create-complete|stack-update-complete`
#                             (the same 30 s waiter). For emulators whose change sets register
#                             no exports (moto: the Lambda stack's !ImportValue then fails).
set -euo pipefail

account=$1 region=$2 trail_bucket=$3 params=$4
zip_bucket="taegis-lambda-$account-$region"
function_arn="arn:aws:lambda:$region:$account:function:$GUIDE_FUNCTION_NAME"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

mark() { printf 'bench-step %s %s\n' "$1" "$(date +%s.%N)"; }

# A stack made or brought up to date; $1 name, $2 template, $3 parameter file stem, then flags.
deploy_stack() {
    local name=$1 template=$2 stem=$3
    shift 3
    if [[ $GUIDE_CFN == deploy ]]; then
        aws cloudformation deploy --region "$region" --stack-name "$name" \
            --template-file "$template" --parameter-overrides "file://$stem.overrides.json" \
            --no-fail-on-empty-changeset "$@" >/dev/null
        return
    fi
    local out
    if aws cloudformation describe-stacks --region "$region" --stack-name "$name" >/dev/null 2>&1; then
        if out=$(aws cloudformation update-stack --region "$region" --stack-name "$name" \
            --template-body "file://$template" --parameters "file://$stem.json" "$@" 2>&1); then
            aws cloudformation wait stack-update-complete --region "$region" --stack-name "$name"
        elif ! grep -q "No updates are to be performed" <<<"$out"; then
            printf '%s\n' "$out" >&2
            return 1
        fi
    else
        aws cloudformation create-stack --region "$region" --stack-name "$name" \
            --template-body "file://$template" --parameters "file://$stem.json" "$@" >/dev/null
        aws cloudformation wait stack-create-complete --region "$region" --stack-name "$name"
    fi
}

# 1. A bucket for the zip in the target region (Lambda reads its code from its own region).
if ! aws s3api head-bucket --region "$region" --bucket "$zip_bucket" >/dev/null 2>&1; then
    aws s3 mb --region "$region" "s3://$zip_bucket" >/dev/null
fi

# 2. The zip.
aws s3 cp --region "$region" --only-show-errors "$GUIDE_ZIP" "s3://$zip_bucket/$GUIDE_ZIP_KEY"

# 3. The shared stack (the credentials), then 4. the Lambda stack.
deploy_stack "$GUIDE_SHARED_STACK" "$GUIDE_SHARED_TEMPLATE" "$params/shared"
mark shared-stack
deploy_stack "$GUIDE_LAMBDA_STACK" "$GUIDE_LAMBDA_TEMPLATE" "$params/lambda" --capabilities CAPABILITY_IAM
mark lambda-stack

# 5. S3 may invoke the function, from this bucket only. A re-run finds the statement there.
if ! out=$(aws lambda add-permission --region "$region" --function-name "$function_arn" \
    --statement-id "$GUIDE_STATEMENT_ID" --action lambda:InvokeFunction \
    --principal s3.amazonaws.com --source-arn "arn:aws:s3:::$trail_bucket" \
    --source-account "$account" 2>&1 >/dev/null); then
    grep -q ResourceConflictException <<<"$out" || { printf '%s\n' "$out" >&2; exit 1; }
fi

# 6. The trigger, merged into the bucket's notification configuration (never overwriting it).
aws s3api get-bucket-notification-configuration --region "$region" --bucket "$trail_bucket" \
    >"$params/notification.json"
"$GUIDE_PYTHON" "$here/merge_notification.py" "$params/notification.json" "$function_arn" \
    "$GUIDE_ENTRY_ID" >"$params/notification.new.json"
aws s3api put-bucket-notification-configuration --region "$region" --bucket "$trail_bucket" \
    --notification-configuration "file://$params/notification.new.json"
mark done
