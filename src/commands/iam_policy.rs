//! `iam-policy`: the least-privilege policy for a role that runs a command, from the IAM
//! table the AWS calls themselves are checked against.

use super::Exit;
use crate::cli::IamPolicyArgs;
use crate::config::checks::{
    check_arn, check_bucket_name, check_region, check_stack_name, is_account_id,
};
use crate::config::{DEFAULT_LAMBDA_BUCKET, DEFAULT_SHARED_STACK, DEFAULT_STACK};
use crate::iam::{Narrowing, policy};
use crate::input::{Input, Problem};
use crate::kinds::Task;
use crate::ui::Printer;

pub fn run(args: &IamPolicyArgs, printer: &Printer) -> Exit {
    let (narrowing, problems) = narrowing(args);
    if !problems.is_empty() {
        for p in &problems {
            printer.error(&p.to_string());
        }
        return Exit::BadInput;
    }
    let doc = policy(args.task, &narrowing);
    printer.out(&serde_json::to_string_pretty(&doc).unwrap_or_default());
    for note in notes(args) {
        printer.info(&note);
    }
    Exit::Ok
}

/// What the policy leaves to the reader.
fn notes(args: &IamPolicyArgs) -> Vec<String> {
    let mut out = Vec::new();
    if !args.accounts.is_empty() {
        out.push("the identity that starts the run also needs sts:AssumeRole on the role it assumes in each account (--role-arn); this policy is for that role".to_string());
    }
    if args.task == Task::Coverage {
        out.push("coverage runs as the caller in its own account and through a role in every other (--role-name, default OrganizationAccountAccessRole): the caller also needs sts:AssumeRole on arn:aws:iam::*:role/OrganizationAccountAccessRole, and each account's role needs this policy".to_string());
    }
    if matches!(args.task, Task::Deploy | Task::Setup) && args.kms_key.is_empty() {
        out.push("a Lambda environment key (--lambda-env-kms-key-arn) also needs kms:CreateGrant and kms:Encrypt on that key: give it with --kms-key".to_string());
    }
    out
}

/// The list flags, checked: every bad value is named.
fn list_problems(args: &IamPolicyArgs) -> Vec<Problem> {
    let mut problems = Vec::new();
    for r in &args.regions {
        if let Err(e) = check_region(r) {
            problems.push(Problem::value(Input::Regions, r, e));
        }
    }
    for a in &args.accounts {
        if !is_account_id(a) {
            problems.push(
                Problem::value(Input::Accounts, a, "is not an account id")
                    .fix("give 12-digit account ids, comma-separated"),
            );
        }
    }
    for b in &args.for_bucket {
        if let Err(e) = check_bucket_name(b) {
            problems.push(Problem::value(Input::ForBucket, b, e));
        }
    }
    let arns = [
        (Input::SnsTopicArn, &args.sns_topic_arn, "sns", false),
        (Input::KmsKey, &args.kms_key, "kms", true),
    ];
    for (input, list, service, kms) in arns {
        for arn in list {
            let region = arn.split(':').nth(3).unwrap_or_default();
            if let Err(e) = check_arn(arn, service, region, kms) {
                problems.push(Problem::value(input, arn, e));
            }
        }
    }
    problems
}

/// The flags, checked: every bad one is named.
fn narrowing(args: &IamPolicyArgs) -> (Narrowing, Vec<Problem>) {
    let mut problems = list_problems(args);
    let stack_name = args.stack_name.as_deref().unwrap_or(DEFAULT_STACK);
    let shared_stack_name = args
        .shared_stack_name
        .as_deref()
        .unwrap_or(DEFAULT_SHARED_STACK);
    for (input, name, lambda) in [
        (Input::StackName, stack_name, true),
        (Input::SharedStackName, shared_stack_name, false),
    ] {
        if let Err(e) = check_stack_name(name, lambda.then_some("awscloudtrail")) {
            problems.push(Problem::value(input, name, e));
        }
    }
    let lambda_bucket = args
        .lambda_bucket
        .as_deref()
        .unwrap_or(DEFAULT_LAMBDA_BUCKET);
    let sample = crate::config::checks::expand(lambda_bucket, "123456789012", "us-east-1");
    if let Err(e) = check_bucket_name(&sample) {
        problems.push(Problem::value(Input::LambdaBucket, lambda_bucket, e));
    }
    let n = Narrowing {
        regions: args.regions.clone(),
        accounts: args.accounts.clone(),
        buckets: args.for_bucket.clone(),
        topics: args.sns_topic_arn.clone(),
        kms_keys: args.kms_key.clone(),
        stack_name: stack_name.to_string(),
        shared_stack_name: shared_stack_name.to_string(),
        lambda_bucket: lambda_bucket.to_string(),
    };
    (n, problems)
}
