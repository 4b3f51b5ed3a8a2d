//! The TVM's URL as clients call it: the API's `execute-api` endpoint on AWS, or the emulator's
//! path form `<endpoint-url>/_aws/execute-api/<apiId>/` when the endpoint is an emulator on this
//! machine (`Connection::emulator`; names like `<api>.execute-api.localhost` do not resolve for
//! most clients).

use std::collections::BTreeMap;

/// The URL for the api stack's `outputs`, or `None` when the stack has no API yet; `emulator` is
/// the emulator's endpoint, when there is one.
pub fn tvm_url(api_outputs: &BTreeMap<String, String>, emulator: Option<&str>) -> Option<String> {
    match emulator {
        Some(base) => {
            api_outputs.get("ApiId").map(|id| format!("{}/_aws/execute-api/{id}/", base.trim_end_matches('/')))
        }
        None => api_outputs.get("Endpoint").cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emulator_gets_the_path_form_and_aws_the_endpoint_output() {
        let outputs: BTreeMap<String, String> = [
            ("ApiId".to_string(), "a1b2c3".to_string()),
            ("Endpoint".to_string(), "https://a1b2c3.execute-api.eu-west-2.amazonaws.com/".to_string()),
        ]
        .into();
        assert_eq!(tvm_url(&outputs, None).as_deref(), Some("https://a1b2c3.execute-api.eu-west-2.amazonaws.com/"));
        assert_eq!(
            tvm_url(&outputs, Some("http://127.0.0.1:4566/")).as_deref(),
            Some("http://127.0.0.1:4566/_aws/execute-api/a1b2c3/")
        );
        assert_eq!(tvm_url(&BTreeMap::new(), None), None);
    }
}
