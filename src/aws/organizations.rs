//! The reads `coverage` adds: the organisation (Organizations), an account's enabled regions
//! (AWS Account Management) and its buckets' names.

use anyhow::Result;
use aws_sdk_account::types::RegionOptStatus;
use aws_sdk_organizations::types::AccountStatus;

use super::AwsCloud;
use super::errors::{classify, is_no_organization, unless};
use crate::plan::coverage::{AccountReads, OrgAccount, Organization};

impl AccountReads for AwsCloud {
    async fn organization(&self) -> Result<Option<Organization>> {
        let asked = self.organizations.describe_organization().send().await;
        let out = unless(asked, |code, _| is_no_organization(code))?;
        Ok(out
            .as_ref()
            .and_then(|o| o.organization())
            .map(|o| Organization {
                id: o.id().unwrap_or_default().to_string(),
            }))
    }

    async fn org_accounts(&self) -> Result<Vec<OrgAccount>> {
        let mut pages = self.organizations.list_accounts().into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(classify)?;
            out.extend(page.accounts().iter().map(|a| OrgAccount {
                id: a.id().unwrap_or_default().to_string(),
                name: a.name().unwrap_or_default().to_string(),
                active: a.status() == Some(&AccountStatus::Active),
            }));
        }
        Ok(out)
    }

    async fn enabled_regions(&self) -> Result<Vec<String>> {
        let mut pages = self
            .account
            .list_regions()
            .region_opt_status_contains(RegionOptStatus::Enabled)
            .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(classify)?;
            out.extend(
                page.regions()
                    .iter()
                    .filter_map(|r| r.region_name())
                    .map(str::to_string),
            );
        }
        Ok(out)
    }

    async fn bucket_names(&self) -> Result<Vec<String>> {
        let out = self.s3.list_buckets().send().await.map_err(classify)?;
        Ok(out
            .buckets()
            .iter()
            .filter_map(|b| b.name())
            .map(str::to_string)
            .collect())
    }
}
