//! The buckets and what goes into them: table cases of the notification and zip buckets and
//! the zip, and a template too large to send inline.

use super::*;

/// The buckets (where, whose, missing) and a new zip.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "bucket in another region",
            args: |_| {},
            seen: || Observed {
                notification_bucket: Fact::Known(Some("eu-west-1".into())),
                notifications: BTreeMap::new(),
                ..fresh()
            },
            want: Want::Problems(&[(Input::NotificationBucket, "--region eu-west-1")]),
        },
        Case {
            name: "no such bucket",
            args: |_| {},
            seen: || Observed {
                notification_bucket: Fact::Known(None),
                notifications: BTreeMap::new(),
                ..fresh()
            },
            want: Want::Problems(&[(Input::NotificationBucket, "no such bucket")]),
        },
        Case {
            name: "zip bucket in another region",
            args: |_| {},
            seen: || Observed {
                lambda_bucket: Fact::Known(Some("eu-west-1".into())),
                ..fresh()
            },
            want: Want::Problems(&[(Input::LambdaBucket, "function's region us-east-1")]),
        },
        Case {
            name: "a zip bucket name taken by another account",
            args: |_| {},
            seen: || Observed {
                lambda_bucket: Fact::Failed(failed("AccessDenied", "Access Denied")),
                ..fresh()
            },
            want: Want::Problems(&[(Input::LambdaBucket, "belongs to another account")]),
        },
        Case {
            name: "a new zip",
            args: |_| {},
            seen: || {
                let mut o = deployed();
                for v in o.objects.values_mut() {
                    *v = Fact::Known(ObjectState::Present {
                        sha256: Some("cd".repeat(32)),
                    });
                }
                o
            },
            want: in_place(&[("upload-lambda-zip", Update)]),
        },
    ]
}

#[test]
fn a_template_over_the_inline_limit_is_uploaded_and_passed_by_url() {
    let big = format!(
        "{}\n# {}\n",
        crate::template::BUNDLED_LAMBDA,
        "x".repeat(crate::template::MAX_INLINE_BODY)
    );
    let l = Local {
        lambda_template: Arc::new(Template::parse("big.yaml", &big).unwrap()),
        ..local()
    };
    let t = target(|_| {});
    let r = reads(&t.for_account(ACCOUNT), &fresh(), &l);
    let key = template_key(&l.lambda_template);
    assert!(r.objects.contains(&key), "{r:?}");
    let plan = decide(&t, &l, &fresh()).plan.unwrap();
    let upload = step(&plan, StepKind::UploadTemplate);
    assert_eq!(upload.action, Action::Create);
    assert!(
        matches!(&upload.op, Op::UploadTemplates(t) if t.len() == 1 && t[0].0 == key),
        "{upload:?}"
    );
    assert_eq!(
        plan.template_source(&l.lambda_template),
        TemplateSource::Url(format!("https://{ZIPS}.s3.us-east-1.amazonaws.com/{key}"))
    );
    assert!(matches!(
        plan.template_source(&l.shared_template),
        TemplateSource::Body(_)
    ));
    // Already there: nothing to upload.
    let seen = Observed {
        lambda_bucket: Fact::Known(Some("us-east-1".into())),
        objects: BTreeMap::from([(
            key,
            Fact::Known(ObjectState::Present {
                sha256: Some(l.lambda_template.sha256.clone()),
            }),
        )]),
        ..fresh()
    };
    let plan = decide(&t, &l, &seen).plan.unwrap();
    let upload = plan
        .steps
        .iter()
        .find(|s| s.kind() == StepKind::UploadTemplate)
        .unwrap();
    assert_eq!(upload.action, Action::Skip);
}
