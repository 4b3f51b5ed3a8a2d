//! Which version of the policy parameter the api stack pins (threat model T3), read back from SSM
//! once the policy stack (wave 0) has written it: the newest version holding exactly the policy
//! this run deploys. Until the api stack (wave 1) switches to it, running instances keep obeying
//! the version they were pinned to, so no request fails during an upgrade.

use anyhow::{Result, bail};

use super::session::Session;
use crate::aws::ssm;
use crate::deploy::policy::version_holding;
use crate::deploy::stacks::{Outputs, Part};
use crate::error::Fixable;
use crate::rollout::stacks::Mode;

/// The version to pin; `None` only in a preview whose policy stack does not exist yet. A preview
/// whose policy stack would change shows the version its update would write: the latest plus one.
pub async fn policy_version(session: &Session, text: &str, outputs: &Outputs, mode: Mode) -> Result<Option<u64>> {
    let Some(name) = outputs.get(&Part::Policy).and_then(|o| o.get("ParameterName")) else {
        if mode == Mode::Preview {
            return Ok(None);
        }
        bail!("the policy stack has no ParameterName output");
    };
    let client = aws_sdk_ssm::Client::new(&session.sdk);
    let latest = ssm::latest(&client, name).await?;
    if let Some(latest) = latest.as_ref().filter(|latest| latest.value == text) {
        return Ok(Some(latest.version));
    }
    let found = version_holding(text, &ssm::history(&client, name).await?);
    if let (Some(found), Some(latest)) = (found, &latest) {
        session.out.warn(&format!(
            "version {} of {name} is not the policy sentinel-tvm deployed: someone wrote over the parameter. The TVM obeys version {found}, which is; see CloudTrail (ssm:PutParameter) for who",
            latest.version
        ));
    }
    match (found, mode) {
        (Some(found), _) => Ok(Some(found)),
        (None, Mode::Preview) => Ok(Some(latest.map_or(1, |latest| latest.version + 1))),
        (None, Mode::Apply) => Err(Fixable::new(
            format!("{name} keeps no version holding the policy the policy stack deployed (SSM keeps a parameter's last 100)"),
            "someone wrote over the parameter; `sentinel-tvm upgrade --policy-file …` with any change writes it again, and CloudTrail (ssm:PutParameter) shows who wrote it",
        )
        .into()),
    }
}
