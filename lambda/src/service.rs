//! The TVM service: one request in, one response and one decision-log line out, with the checks
//! of CONTRACT.md §3 in their order (the first failure answers). STS and SSM sit behind the
//! two small traits here, so tests substitute them; the real adapters are in `aws`. What a vend
//! decides without them is `decide`'s, which the installer's policy tools share.
//!
//! Fail closed everywhere: a broken environment, an unreadable or invalid policy, a missing
//! random number, an unknown route: each is a refusal, never credentials.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use jiff::{SignedDuration, Timestamp};

use crate::contract::{Credentials, ErrorCode, Response};
use crate::decide::{self, DecisionSettings, Outcome, OwnFunction, Refusal, VendRequest};
use crate::decision_log::{self, DecisionLog, IdentitySource};
use crate::event::{Event, Route};
use crate::identity::{Caller, caller_allowed, rate_key, stable_principal, username};
use crate::policy::{self, NO_MATCHING_RULE, Policy, Principal};
use crate::proof::replay::{Admission as ProofAdmission, ReplayCache};
use crate::proof::{self, replay};
use crate::rate_limit::{Admission, RateLimiter};
use crate::session::{Discriminator, RequestId, session_name, source_identity};
use crate::settings::{ProofMode, Settings, SettingsError};

/// The AssumeRole call the TVM makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRoleRequest {
    pub role_arn: String,
    pub session_name: String,
    pub source_identity: String,
    pub duration_seconds: u32,
}

/// Issues credentials (STS `AssumeRole`). The error text goes to the log only.
pub trait CredentialIssuer: Send + Sync {
    /// Gives up at `deadline` (the request's, shared by every call it makes).
    fn assume_role(
        &self,
        request: &AssumeRoleRequest,
        deadline: Timestamp,
    ) -> impl Future<Output = Result<Credentials, String>> + Send;
}

/// A request for STS built from a caller proof: sent as it is, and answered as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofRequest {
    /// The STS endpoint (`Settings::sts_endpoint`) with path `/`.
    pub url: String,
    /// The proof's signed headers and its content type, nothing else.
    pub headers: Vec<(String, String)>,
    pub body: &'static str,
}

/// STS's raw answer to a proof: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofAnswer {
    pub status: u16,
    pub body: String,
}

/// Sends a caller proof to STS (`sts:GetCallerIdentity` as the caller signed it). An error means
/// no answer (unreachable, timed out); its text goes to the log only.
pub trait IdentityVerifier: Send + Sync {
    /// Gives up at `deadline` (the request's, shared by every call it makes).
    fn send(
        &self,
        request: &ProofRequest,
        deadline: Timestamp,
    ) -> impl Future<Output = Result<ProofAnswer, String>> + Send;
}

/// Reads the policy text (SSM `GetParameter` of `<name>:<version>`). The error text goes to the
/// log only.
pub trait PolicySource: Send + Sync {
    /// Gives up at `deadline` (the request's, shared by every call it makes).
    fn fetch(&self, reference: &str, deadline: Timestamp) -> impl Future<Output = Result<String, String>> + Send;
}

/// What the runtime knows about this invocation.
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    /// The invoked function's ARN: the TVM's own partition and account come from it.
    pub function_arn: &'a str,
    pub now: Timestamp,
    /// When every call the request makes (proof, SSM, STS) must have ended: `request_deadline`.
    pub deadline: Timestamp,
}

/// The longest a request may spend in calls, well inside the function's 10 s timeout, so even a
/// request whose every call is slow ends with a contract answer and a decision-log line.
pub const REQUEST_BUDGET: SignedDuration = SignedDuration::from_secs(8);
/// Kept back from the runtime's own deadline to write the answer and the log line.
pub const DEADLINE_MARGIN: SignedDuration = SignedDuration::from_millis(500);

/// The request's deadline: `REQUEST_BUDGET` after `now`, or earlier when the runtime's deadline
/// (milliseconds since the epoch, as the Lambda runtime API gives it) leaves less.
pub fn request_deadline(now: Timestamp, runtime_deadline_ms: Option<i64>) -> Timestamp {
    let budget = now.saturating_add(REQUEST_BUDGET).unwrap_or(now);
    let runtime = runtime_deadline_ms
        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
        .map(|deadline| deadline.saturating_sub(DEADLINE_MARGIN).unwrap_or(deadline));
    match runtime {
        Some(runtime) if runtime < budget => runtime,
        _ => budget,
    }
}

pub struct Handled {
    pub response: Response,
    pub log: DecisionLog,
}

pub struct Tvm<I, P, V> {
    settings: Result<Settings, SettingsError>,
    issuer: I,
    policies: P,
    verifier: V,
    /// The pinned policy once read: a parameter version never changes, so it is read once per
    /// instance. A new pin is a new configuration, which the Lambda service starts new
    /// instances for.
    cache: Mutex<Option<Arc<Policy>>>,
    limiter: Mutex<RateLimiter>,
    replays: Mutex<ReplayCache>,
}

/// Everything established about a request once checks 1–4 passed.
struct Checked<'a> {
    event: &'a Event,
    settings: &'a Settings,
    own: OwnFunction<'a>,
    principal: Principal<'a>,
    /// The caller's unique id, or without one (proofs off, and an authorizer context without
    /// `userId`) the part of its ARN no session chooses: what the discriminator hashes.
    unique_id: &'a str,
    id: RequestId,
    now: Timestamp,
    deadline: Timestamp,
}

impl<I: CredentialIssuer, P: PolicySource, V: IdentityVerifier> Tvm<I, P, V> {
    pub fn new(settings: Result<Settings, SettingsError>, issuer: I, policies: P, verifier: V) -> Self {
        let limiter = match &settings {
            Ok(settings) => RateLimiter::new(settings.rate_limit, settings.rate_window_seconds),
            Err(_) => RateLimiter::new(0, 1),
        };
        Self {
            settings,
            issuer,
            policies,
            verifier,
            cache: Mutex::new(None),
            limiter: Mutex::new(limiter),
            replays: Mutex::new(ReplayCache::new(replay::DEFAULT_CAPACITY)),
        }
    }

    pub async fn handle(&self, event: &Event, invocation: Invocation<'_>) -> Handled {
        let mut log = DecisionLog::started(invocation.now);
        let response = self.answer(event, invocation, &mut log).await;
        log.finish(&response);
        Handled { response, log }
    }

    /// Checks 1–4, which hold for every route, then the route itself.
    async fn answer(&self, event: &Event, invocation: Invocation<'_>, log: &mut DecisionLog) -> Response {
        let Ok(id) = RequestId::random() else {
            log.refused("the operating system's random number generator failed".into());
            return Response::error(ErrorCode::CredentialError);
        };
        log.request_id = Some(id.as_str().into());
        let settings = match &self.settings {
            Ok(settings) => settings,
            Err(error) => return refuse(log, ErrorCode::ConfigError, error.to_string()),
        };
        let Some(own) = OwnFunction::parse(invocation.function_arn) else {
            let reason =
                format!("cannot read the TVM's own account from the function ARN `{}`", invocation.function_arn);
            return refuse(log, ErrorCode::ConfigError, reason);
        };
        // 1. Who is calling: as STS answered the caller's proof, or (proofs off) as the
        //    authorizer context says.
        let caller = match settings.identity_proof {
            ProofMode::Required => match self.proven_caller(event, settings, invocation, log).await {
                Ok(caller) => caller,
                Err(response) => return response,
            },
            ProofMode::Off => {
                let Some(caller) = Caller::from_authorizer(event.iam()) else {
                    return refuse(log, ErrorCode::IamAuthRequired, "no IAM authorizer context in the event".into());
                };
                log.identity = Some(IdentitySource::Authorizer.as_str());
                caller
            }
        };
        log.principal_arn = Some(caller.user_arn.clone());
        log.principal_id = caller.unique_id.clone();
        log.account_id = Some(caller.account_id.clone());
        // 2. From an allowed account (and organization)?
        if !caller_allowed(&caller, &settings.allowed_accounts, settings.allowed_org_id.as_deref(), own.account_id) {
            return refuse(log, ErrorCode::AccountNotAllowed, "caller account or organization not allowed".into());
        }
        // 3. A username we can stamp.
        let Some(user) = username(&caller.user_arn) else {
            return refuse(log, ErrorCode::InvalidIdentity, "no username derivable from the caller ARN".into());
        };
        log.user = Some(user.clone());
        // 4. Within the rate limit.
        let admission = self
            .limiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .admit(rate_key(&caller.user_arn), invocation.now.as_second());
        if let Admission::Limited { retry_after_seconds } = admission {
            log.refused("rate limit exceeded".into());
            return Response::rate_limited(retry_after_seconds);
        }
        let principal = Principal { user: &user, arn: &caller.user_arn, account_id: &caller.account_id };
        let unique_id = caller.unique_id.as_deref().unwrap_or_else(|| stable_principal(&caller.user_arn));
        let request = Checked {
            event,
            settings,
            own,
            principal,
            unique_id,
            id,
            now: invocation.now,
            deadline: invocation.deadline,
        };
        match event.route() {
            Route::Vend => self.vend(&request, log).await,
            Route::Profiles if event.method() == "GET" => self.discover(&request, log).await,
            Route::Profiles => refuse(log, ErrorCode::MethodNotAllowed, format!("{} on /profiles", event.method())),
            Route::NotFound => refuse(log, ErrorCode::NotFound, "no such route".into()),
        }
    }

    /// The caller a proof proves (CONTRACT.md §12), or the refusal: no proof, a proof that fails
    /// a check of the TVM's own, one seen before, one STS refuses or cannot answer, or one naming
    /// another caller than the authorizer context.
    async fn proven_caller(
        &self,
        event: &Event,
        settings: &Settings,
        invocation: Invocation<'_>,
        log: &mut DecisionLog,
    ) -> Result<Caller, Response> {
        let now = invocation.now;
        log.claimed_principal_arn = event.iam().and_then(|iam| iam.user_arn.clone());
        let Some(carrier) = event.header(proof::PROOF_HEADER) else {
            return Err(refuse(log, ErrorCode::ProofRequired, "no caller proof".into()));
        };
        let expected = proof::Expected {
            host: proof::host_of(&settings.sts_endpoint),
            region: &settings.region,
            audiences: &settings.proof_audiences,
            now,
        };
        let checked = proof::decode(carrier).and_then(|headers| proof::check(&headers, &expected));
        let proof = checked.map_err(|error| refuse(log, error.code(), format!("caller proof: {}", error.reason())))?;
        let admission = self.replays.lock().unwrap_or_else(PoisonError::into_inner).admit(
            &proof.signature,
            proof.signed_at,
            now.as_second(),
        );
        match admission {
            ProofAdmission::First => {}
            ProofAdmission::Replayed => {
                return Err(refuse(log, ErrorCode::ProofReplayed, "caller proof seen before".into()));
            }
            ProofAdmission::Full => {
                return Err(refuse(
                    log,
                    ErrorCode::IdentityUnverified,
                    "the replay cache is full of live proofs".into(),
                ));
            }
        }
        let request = ProofRequest {
            url: format!("{}/", settings.sts_endpoint),
            headers: proof.forwarded.clone(),
            body: proof::BODY,
        };
        let identity = match self
            .verifier
            .send(&request, invocation.deadline)
            .await
            .map(|a| proof::read_answer(a.status, &a.body))
        {
            Ok(proof::Verdict::Verified(identity)) => identity,
            Ok(proof::Verdict::Refused(why)) => return Err(refuse(log, ErrorCode::ProofInvalid, why)),
            Ok(proof::Verdict::Unverified(why)) | Err(why) => {
                return Err(refuse(log, ErrorCode::IdentityUnverified, format!("caller proof not verified: {why}")));
            }
        };
        log.identity = Some(IdentitySource::Proof.as_str());
        if let Some(iam) = event.iam() {
            let claimed = |value: &Option<String>| value.as_deref().map(str::trim).unwrap_or_default().to_string();
            if claimed(&iam.user_arn) != identity.arn || claimed(&iam.access_key) != proof.key_id {
                log.principal_arn = Some(identity.arn);
                return Err(refuse(log, ErrorCode::ProofMismatch, "the proof's signer is not the request's".into()));
            }
        }
        // GetCallerIdentity does not say which organization the caller is in: with proofs, no
        // organization is taken from the event (admission by organization alone is refused).
        Ok(Caller {
            account_id: identity.account_id,
            user_arn: identity.arn,
            unique_id: Some(identity.user_id),
            principal_org_id: None,
        })
    }

    /// Checks 5–11 of `GET /` and `POST /`: `decide`'s, around reading the policy (check 8) and
    /// asking STS (check 11).
    async fn vend(&self, request: &Checked<'_>, log: &mut DecisionLog) -> Response {
        let Checked { event, settings, own, principal, unique_id, id, now, deadline } = request;
        log.device_id = decision_log::device_id(event.query("device_id").as_deref());
        let (profile, duration) = (event.query("profile"), event.query("duration"));
        let vend = VendRequest { principal: *principal, profile: profile.as_deref(), duration: duration.as_deref() };
        let scope = DecisionSettings::new(settings, *own);
        // 5–7, before the policy is read. The profile goes to the log once check 6 passed it:
        // an invalid one is never echoed, not even there.
        let checked = decide::check_request(&scope, &vend);
        if checked.as_ref().err().is_none_or(|refusal| refusal.check() > 6) {
            log.profile = profile.clone();
        }
        if let Err(refusal) = checked {
            return refuse(log, refusal.code(), refusal.to_string());
        }
        // 8.
        let policy = match self.policy(settings, *deadline).await {
            Ok(policy) => policy,
            Err(reason) => return refuse(log, ErrorCode::ConfigError, reason),
        };
        // 9, 10 and the duration: all of `decide`, which runs checks 5–7 again (they passed
        // above), so the Lambda and the installer's tools share one decision, whole.
        let Outcome { decision, answer } = decide::decide(&scope, &policy, &vend, *now);
        if let Some(decision) = decision {
            log.decided(settings.policy.version, decision);
        }
        let grant = match answer {
            Ok(grant) => grant,
            Err(Refusal::PolicyDeny) => {
                return Response::policy_deny(decision.map_or(NO_MATCHING_RULE, |decision| decision.reason()));
            }
            Err(refusal) => return refuse(log, refusal.code(), refusal.to_string()),
        };
        // 11. The discriminator only now: only a request STS is asked for needs it.
        let disc = Discriminator::of(principal.account_id, unique_id);
        let assume = AssumeRoleRequest {
            role_arn: grant.role_arn,
            session_name: session_name(principal.user, &disc, id),
            source_identity: source_identity(principal.user, &disc, id),
            duration_seconds: grant.duration_seconds,
        };
        log.role_arn = Some(assume.role_arn.clone());
        log.duration_seconds = Some(assume.duration_seconds);
        log.source_identity = Some(assume.source_identity.clone());
        match self.issuer.assume_role(&assume, *deadline).await {
            Ok(credentials) => Response::credentials(&credentials),
            Err(detail) => refuse(log, ErrorCode::CredentialError, format!("sts:AssumeRole failed: {detail}")),
        }
    }

    /// `GET /profiles`: what the policy could ever allow this caller, with the roles they name.
    async fn discover(&self, request: &Checked<'_>, log: &mut DecisionLog) -> Response {
        let Checked { settings, own, principal, deadline, .. } = request;
        let policy = match self.policy(settings, *deadline).await {
            Ok(policy) => policy,
            Err(reason) => return refuse(log, ErrorCode::ConfigError, reason),
        };
        let listings = decide::discover(&DecisionSettings::new(settings, *own), &policy, principal);
        log.refused(format!("discovery: {} profiles", listings.len()));
        Response::profiles(&listings)
    }

    /// The pinned policy (threat model T3): read once per instance, and only if SSM's value of the
    /// pinned version has the pinned digest. A failure is not cached, so a fixed parameter (or
    /// a throttled read) recovers on the next request.
    async fn policy(&self, settings: &Settings, deadline: Timestamp) -> Result<Arc<Policy>, String> {
        if let Some(policy) = self.cache.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            return Ok(policy.clone());
        }
        let pin = &settings.policy;
        let reference = pin.reference();
        let text = self
            .policies
            .fetch(&reference, deadline)
            .await
            .map_err(|e| format!("cannot read the pinned policy {reference}: {e}"))?;
        let text = pin.check(&text)?;
        let parsed =
            policy::parse(text).map_err(|e| format!("the policy in {reference} is invalid at {}", e.log_summary()))?;
        let policy = Arc::new(parsed);
        *self.cache.lock().unwrap_or_else(PoisonError::into_inner) = Some(policy.clone());
        Ok(policy)
    }
}

/// An error response, with why in the log.
fn refuse(log: &mut DecisionLog, code: ErrorCode, why: String) -> Response {
    log.refused(why);
    Response::error(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_the_budget_or_the_runtimes_less_a_margin_whichever_is_sooner() {
        let now: Timestamp = "2026-01-25T14:30:00Z".parse().unwrap();
        let ms = |text: &str| text.parse::<Timestamp>().unwrap().as_millisecond();
        for (runtime, expected) in [
            (None, "2026-01-25T14:30:08Z"),
            (Some(ms("2026-01-25T14:30:10Z")), "2026-01-25T14:30:08Z"),
            (Some(ms("2026-01-25T14:30:03Z")), "2026-01-25T14:30:02.5Z"),
            (Some(ms("2026-01-25T14:29:59Z")), "2026-01-25T14:29:58.5Z"),
            (Some(i64::MAX), "2026-01-25T14:30:08Z"),
        ] {
            assert_eq!(request_deadline(now, runtime), expected.parse::<Timestamp>().unwrap(), "{runtime:?}");
        }
    }
}
