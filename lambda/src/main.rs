//! The Lambda's `bootstrap`: read the environment once, build the STS and SSM clients once, then
//! serve HTTP API (payload 2.0) and Function URL events. Wiring only: every decision is in the
//! library, and the one thing done here besides wiring is printing each decision-log line.

// The handler's future nests the SDK's futures inside per-request deadlines; computing its layout
// takes rustc past its default query depth of 128.
#![recursion_limit = "256"]

use jiff::Timestamp;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use sentinel_tvm_lambda::aws::{HttpsIdentityVerifier, SsmPolicySource, StsIssuer, sdk_config};
use sentinel_tvm_lambda::contract::Response;
use sentinel_tvm_lambda::decision_log::startup_failure;
use sentinel_tvm_lambda::event::Event;
use sentinel_tvm_lambda::service::{Invocation, Tvm, request_deadline};
use sentinel_tvm_lambda::settings::Settings;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // A value that is not UTF-8 comes through as U+FFFD, which every check refuses: malformed,
    // never silently unset.
    let settings = Settings::from_lookup(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()));
    if let Err(problem) = &settings {
        println!("{}", startup_failure(Timestamp::now(), &problem.to_string()));
    }
    let config = sdk_config().await;
    let tvm = Tvm::new(settings, StsIssuer::new(&config), SsmPolicySource::new(&config), HttpsIdentityVerifier::new());
    let tvm = &tvm;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let now = Timestamp::now();
        let runtime_deadline = i64::try_from(event.context.deadline).ok();
        let invocation = Invocation {
            function_arn: &event.context.invoked_function_arn,
            now,
            deadline: request_deadline(now, runtime_deadline),
        };
        let handled = tvm.handle(&event.payload, invocation).await;
        println!("{}", handled.log.to_json());
        Ok::<Response, Error>(handled.response)
    }))
    .await
}
