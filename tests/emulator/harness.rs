//! Proves the harness itself: the Rust SDK, pointed at the emulator, can create a real
//! CloudFormation stack, see its resource, and delete it again.

use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::StackStatus;

use crate::emulator_or_skip;
use crate::support::unique_name;

const TEMPLATE: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Name: {Type: String}
Resources:
  Marker:
    Type: AWS::SSM::Parameter
    Properties: {Name: !Ref Name, Type: String, Value: harness}
"#;

#[tokio::test]
async fn a_stack_can_be_created_and_deleted_through_the_sdk() {
    let emulator = emulator_or_skip!();
    let cloudformation = Client::new(&emulator.config);
    let stack = unique_name("harness");
    let parameter = format!("/sentinel-tvm-test/{stack}");

    cloudformation
        .create_stack()
        .stack_name(&stack)
        .template_body(TEMPLATE)
        .parameters(
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key("Name")
                .parameter_value(&parameter)
                .build(),
        )
        .send()
        .await
        .expect("CreateStack is accepted");
    assert_eq!(settle(&cloudformation, &stack).await, Some(StackStatus::CreateComplete));

    let resources =
        cloudformation.describe_stack_resources().stack_name(&stack).send().await.expect("resources listed");
    let marker = resources
        .stack_resources()
        .iter()
        .find(|r| r.logical_resource_id() == Some("Marker"))
        .expect("the parameter is a resource of the stack");
    assert_eq!(marker.physical_resource_id(), Some(parameter.as_str()));

    cloudformation.delete_stack().stack_name(&stack).send().await.expect("DeleteStack is accepted");
    let after = settle(&cloudformation, &stack).await;
    assert!(matches!(after, None | Some(StackStatus::DeleteComplete)), "stack after delete: {after:?}");
}

/// Polls until the stack's status stops ending in `_IN_PROGRESS`; `None` once it no longer exists.
async fn settle(cloudformation: &Client, stack: &str) -> Option<StackStatus> {
    for _ in 0..300 {
        let status = match cloudformation.describe_stacks().stack_name(stack).send().await {
            Ok(output) => output.stacks().first().and_then(|s| s.stack_status().cloned()),
            Err(error) if format!("{:?}", error).contains("does not exist") => return None,
            Err(error) => panic!("DescribeStacks failed: {error:?}"),
        };
        match status {
            Some(status) if status.as_str().ends_with("_IN_PROGRESS") => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            other => return other,
        }
    }
    panic!("stack {stack} did not settle within 60 s");
}
