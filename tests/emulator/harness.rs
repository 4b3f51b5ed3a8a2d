//! Proves the harness itself: the Rust SDK, pointed at the emulator, can create a real
//! CloudFormation stack, see its resource, and delete it again.

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::StackStatus;

use crate::emulator_or_skip;
use crate::support::{settle, unique_name};

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
