//! The command line, as clap types and nothing else: the doc comments here are the `--help` text.
//!
//! Raw arguments only. Turning them (with the environment and the config file) into settings is
//! another module's job, so precedence is decided in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Architecture, EnvironmentConfig};
use crate::settings::Selection;

/// Install, upgrade, check and remove a token vending machine (TVM) in an AWS account.
///
/// The TVM is a Lambda behind an IAM-authorised HTTP API that hands out short-lived credentials
/// for protected roles, by policy, stamped with the caller's identity.
#[derive(Debug, Parser)]
#[command(name = "sentinel-tvm", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten, next_help_heading = "Global options")]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Environment name; every stack and physical name carries it.
    #[arg(long, global = true, value_name = "NAME")]
    pub env: Option<String>,

    /// Configuration file (default: `sentinel-tvm.yaml` in the current directory).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// AWS named profile to take credentials and region from (also AWS_PROFILE). Not `--profile`:
    /// that is the TVM profile a client asks for (`credentials`, `exec`).
    #[arg(id = "aws_profile", long = "aws-profile", global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// AWS region to deploy to.
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,

    /// Send every AWS call to this endpoint instead of AWS (a local emulator, for instance).
    #[arg(long, global = true, value_name = "URL", env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,

    /// Answer yes to every confirmation; never prompt.
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,

    /// Never prompt: a value that is missing is an error naming the flag that supplies it.
    #[arg(long, global = true)]
    pub non_interactive: bool,

    /// How to print results: text for people, json for one JSON object per line.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

impl GlobalArgs {
    /// The flags that choose the environment and how to reach AWS, for `settings`.
    pub fn selection(&self) -> Selection {
        Selection {
            env: self.env.clone(),
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build, deploy every stack, and run the smoke test (asks what it needs on a terminal).
    Install(ApplyArgs),
    /// Rebuild and apply what changed since the last install, after showing the change sets.
    Upgrade(ApplyArgs),
    /// Show the change sets an upgrade would apply, and apply nothing.
    Diff(DeployArgs),
    /// Show each stack's status, deployed version and outputs, and what was changed outside
    /// CloudFormation (drift, a security finding: exit 1).
    Status(StatusArgs),
    /// Prove the deployed TVM vends credentials for the smoke profile and refuses what it must.
    SmokeTest(SmokeArgs),
    /// Delete every stack of the environment and list anything left behind. The decision log
    /// and access log are kept (the audit record) unless --delete-logs.
    Teardown(TeardownArgs),
    /// Build the TVM Lambda from the sources this binary carries (or find it built already in
    /// the cache) and print the zip's path: to build ahead of an install, or for --lambda-zip.
    Build(BuildArgs),
    /// Work with TVM policy files.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The optional Service Control Policy: show its document, or simulate it.
    #[command(subcommand)]
    Scp(ScpCommand),
    /// Credentials for a protected profile from the TVM, as `credential_process` JSON.
    Credentials(CredentialsArgs),
    /// Run a command with credentials from the TVM, served to its AWS SDK by a local bridge.
    Exec(ExecArgs),
    /// The profiles the TVM would vend to you, or (`--write-config`) an AWS config profile for each.
    Profiles(ProfilesArgs),
}

/// Where the TVM is: its URL, or the installed environment whose URL it is.
#[derive(Debug, Clone, Args)]
pub struct TvmArgs {
    /// The TVM's URL (the api stack's Endpoint output); without it, the URL of the installed
    /// environment (`--env`).
    #[arg(long = "endpoint", value_name = "URL")]
    pub tvm_url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct CredentialsArgs {
    /// The protected profile to ask for (`<env>-<name>`, as the policy names it).
    #[arg(long, value_name = "PROFILE")]
    pub profile: String,

    /// Credential lifetime in seconds, 900..=3600 [default: 3600, or less where the policy caps
    /// it].
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u32>,

    #[command(flatten)]
    pub tvm: TvmArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ProfilesArgs {
    #[command(flatten)]
    pub tvm: TvmArgs,

    /// Write a profile into the AWS config file for each profile listed, whose
    /// `credential_process` line calls the TVM at its URL and signs with `--base-profile`: then
    /// `AWS_PROFILE=<profile> aws …` works. Shows the changes and asks first (`--yes` for
    /// scripts); touches no other profile.
    #[arg(long)]
    pub write_config: bool,

    /// The AWS config file to write [default: AWS_CONFIG_FILE, else ~/.aws/config].
    #[arg(long, value_name = "PATH", requires = "write_config")]
    pub file: Option<PathBuf>,

    /// The AWS profile the written lines sign with, which must not itself run sentinel-tvm
    /// [default: the one this command signs with: `--aws-profile`, AWS_PROFILE, else `default`].
    #[arg(long, value_name = "NAME", requires = "write_config")]
    pub base_profile: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub credentials: CredentialsArgs,

    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ScpCommand {
    /// Print the exact SCP document that would be deployed (JSON).
    Show(ScpArgs),
    /// Simulate the SCP (and the RCP, with rcp_mode) with iam:SimulateCustomPolicy: per guarded
    /// resource, a non-deployer and the execution role denied, deployers and break-glass
    /// allowed; assuming protected roles only for the TVM and break-glass; direct invokes for
    /// nobody.
    Check(ScpArgs),
}

/// Which guardrail document `scp show` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum GuardrailKind {
    /// The Service Control Policy.
    #[default]
    Scp,
    /// The Resource Control Policy (`rcp_mode`).
    Rcp,
}

/// The SCP of an installed environment, or, without one, of these ARNs.
#[derive(Debug, Args)]
pub struct ScpArgs {
    /// Which document: the SCP, or the RCP.
    #[arg(long, value_enum, default_value_t = GuardrailKind::Scp)]
    pub kind: GuardrailKind,

    /// The artifact bucket's name, with --execution-role-arn [default: the environment's bucket
    /// name in the function's account and region].
    #[arg(long, value_name = "NAME")]
    pub bucket_name: Option<String>,

    /// The TVM's execution role ARN, instead of reading it from the installed environment (no
    /// AWS call is made by `show` then).
    #[arg(long, value_name = "ARN")]
    pub execution_role_arn: Option<String>,

    /// The TVM function's ARN (with --execution-role-arn; the SCP names it).
    #[arg(long, value_name = "ARN")]
    pub function_arn: Option<String>,

    #[command(flatten, next_help_heading = "Deploy settings (each also a key of sentinel-tvm.yaml)")]
    pub settings: EnvironmentConfig,
}

/// Settings for deploying (each also a key of the config file) and where the code comes from.
#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten, next_help_heading = "Deploy settings (each also a key of sentinel-tvm.yaml)")]
    pub settings: EnvironmentConfig,

    /// Deploy this prebuilt Lambda zip instead of building one (its `bootstrap` must match the
    /// architecture).
    #[arg(long, value_name = "PATH", help_heading = "Code")]
    pub lambda_zip: Option<PathBuf>,

    /// Skip drift detection, and so the restore of anything changed outside CloudFormation (on
    /// AWS detection takes seconds per stack).
    #[arg(long, help_heading = "Drift")]
    pub no_drift: bool,
}

/// A deploy that applies changes, then proves them.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub deploy: DeployArgs,

    /// Do not run the smoke test after deploying.
    #[arg(long, help_heading = "Smoke test")]
    pub skip_smoke_test: bool,

    #[command(flatten, next_help_heading = "Smoke test")]
    pub smoke: SmokeArgs,
}

#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// Lambda architecture to build for.
    #[arg(long, value_enum, default_value_t = Architecture::Arm64)]
    pub architecture: Architecture,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Skip drift detection (on AWS it takes seconds per stack).
    #[arg(long)]
    pub no_drift: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SmokeArgs {
    /// Also call the TVM as a temporary IAM user holding only the generated client policy
    /// (created for the test and deleted after it).
    #[arg(long)]
    pub as_client: bool,

    /// Seconds to keep retrying a 403 or 5xx right after a deploy, while IAM settles.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub wait: u64,
}

#[derive(Debug, Args)]
pub struct TeardownArgs {
    /// Also delete the decision log and the API access log, the only record of who received
    /// which credentials (kept by default: they outlive the stacks).
    #[arg(long)]
    pub delete_logs: bool,

    /// Also delete this TVM's guardrail (SCP, RCP) stacks when the environment has no stacks in
    /// this region (by default they are kept then: its TVM may live in another region).
    #[arg(long)]
    pub delete_guardrails: bool,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check a policy file with the same code the Lambda uses.
    Validate {
        /// The policy file (YAML).
        file: PathBuf,
    },
    /// Write a commented starter policy for the environment, to edit and pass as --policy-file.
    Init {
        /// Where to write it.
        #[arg(default_value = "policy.yaml")]
        file: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
}
