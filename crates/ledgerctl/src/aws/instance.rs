//! The EC2 instance that runs the stack's containers: the configured type; the web and ssh security groups; the instance profile;
//! IMDSv2 required; an encrypted gp3 root volume; user-data (`templates/user-data.sh`) that
//! installs the Docker engine and adds the login user to the docker group. Found by its tags
//! (`ledgerly:stack` and `Name=<stack>-app`), never by a remembered id. What EC2 can change in
//! place is kept as configured (type, groups, profile, IMDSv2, running); the AMI, key pair,
//! user-data and root volume are set when the instance is created.
//!
//! Over 500 lines: one resource kind whose create (AMI lookup, profile propagation, waits) is long.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context as _, Result};
use aws_sdk_ec2::client::Waiters as _;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, Filter, HttpTokensState, IamInstanceProfileSpecification,
    InstanceMetadataEndpointState, InstanceMetadataOptionsRequest, InstanceStateName, InstanceType,
    ResourceType, VolumeType,
};
use base64::Engine as _;

use super::{
    Aws, PROPAGATION_ATTEMPTS, PROPAGATION_DELAY, ec2, found, has_code, retry_propagation,
    sdk_error, waited,
};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// How long an instance may take to start or stop.
pub(crate) const STATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The API container reaches the instance role's credentials through IMDSv2: one hop for the
/// host, one for Docker's bridge.
const IMDS_HOP_LIMIT: i32 = 2;
const USER_DATA: &str = include_str!("../../../../templates/user-data.sh");
/// The host rule user-data sets at every boot: the instance metadata for the API's containers.
pub(crate) const METADATA_GUARD: &str = include_str!("../../../../templates/metadata-guard.sh");

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Instance {
    pub(crate) name: String,
    /// How EC2 finds it: by the stack's tag and its `Name`.
    pub(crate) filters: [Filter; 2],
    pub(crate) instance_type: String,
    /// An explicit AMI, or the SSM parameter naming the current one (read only to create).
    pub(crate) ami: Option<String>,
    pub(crate) ami_parameter: String,
    pub(crate) key_pair: String,
    /// Security groups by name.
    pub(crate) security_groups: BTreeSet<String>,
    pub(crate) instance_profile: String,
    pub(crate) root_volume_gb: i32,
    pub(crate) user_data: String,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) id: String,
    pub(crate) state: String,
    pub(crate) instance_type: String,
    /// By name where the group is the stack's, by id otherwise.
    pub(crate) security_groups: BTreeSet<String>,
    pub(crate) instance_profile: Option<String>,
    pub(crate) imds_v2_required: bool,
    /// How many network hops an IMDSv2 token reply may take: containers on a bridge network
    /// are one hop further than the host, so they need 2 to get the instance role's credentials.
    pub(crate) imds_hop_limit: i32,
    pub(crate) public_ip: Option<String>,
    pub(crate) tags: BTreeMap<String, String>,
}

pub(crate) fn name(config: &StackConfig) -> String {
    config.name("app")
}

/// What user-data does for `instance.ssh_port`: nothing for 22; else sshd listens there alone
/// (a drop-in read before the main file, whose first `Port` wins), and on Ubuntu's socket-activated
/// sshd the socket is regenerated from it.
fn ssh_port_setup(port: u16) -> String {
    if port == 22 {
        return String::new();
    }
    format!(
        "install -d -m 0755 /etc/ssh/sshd_config.d\n\
         printf 'Port {port}\\n' > /etc/ssh/sshd_config.d/10-ledgerly-port.conf\n\
         systemctl daemon-reload\n\
         if systemctl is-enabled ssh.socket >/dev/null 2>&1; then systemctl restart ssh.socket; \
         else systemctl restart ssh || systemctl restart sshd; fi\n"
    )
}

/// The instance's user-data: `templates/user-data.sh` with the login user, the SSH port and the
/// metadata guard.
pub(super) fn user_data(config: &StackConfig) -> String {
    let network = crate::docker::template::NETWORK;
    USER_DATA
        .replace("{{ssh_port}}\n", &ssh_port_setup(config.instance.ssh_port))
        .replace("{{ssh_user}}", &config.instance.ssh_user)
        .replace("{{metadata_address}}", network.metadata_address)
        .replace("{{metadata_range}}", network.metadata_range)
        .replace("{{metadata_guard}}", METADATA_GUARD.trim_end())
}

/// The stack's instances found by `filters` that are not terminated (normally one).
async fn find(aws: &Aws, filters: &[Filter]) -> Result<Vec<aws_sdk_ec2::types::Instance>> {
    let reply = aws
        .ec2
        .describe_instances()
        .set_filters(Some(filters.to_vec()))
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .set_values(Some(
                    ["pending", "running", "stopping", "stopped"]
                        .map(str::to_owned)
                        .to_vec(),
                ))
                .build(),
        )
        .send()
        .await
        .map_err(sdk_error("looking for the stack's instance".into()))?;
    Ok(reply
        .reservations()
        .iter()
        .flat_map(|r| r.instances().iter().cloned())
        .collect())
}

/// The instance as EC2 has it; `group_names` maps the stack's security group ids to names.
fn as_observed(
    instance: &aws_sdk_ec2::types::Instance,
    group_names: &BTreeMap<String, String>,
) -> Observed {
    Observed {
        id: instance.instance_id().unwrap_or_default().to_owned(),
        state: instance
            .state()
            .and_then(|s| s.name())
            .map_or("unknown", InstanceStateName::as_str)
            .to_owned(),
        instance_type: instance
            .instance_type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        security_groups: instance
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id())
            .map(|id| {
                group_names
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| id.to_owned())
            })
            .collect(),
        instance_profile: instance
            .iam_instance_profile()
            .and_then(|p| p.arn())
            .and_then(|arn| arn.rsplit('/').next())
            .map(str::to_owned),
        imds_v2_required: instance
            .metadata_options()
            .and_then(|m| m.http_tokens())
            .is_some_and(|t| *t == HttpTokensState::Required),
        imds_hop_limit: instance
            .metadata_options()
            .and_then(|m| m.http_put_response_hop_limit())
            .unwrap_or(1),
        public_ip: instance.public_ip_address().map(str::to_owned),
        tags: ec2::tags_of(instance.tags()),
    }
}

fn joined(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(",")
}

fn running(state: &str) -> &str {
    // Starting up is on its way to running: not drift.
    if state == "pending" { "running" } else { state }
}

fn ids_of(names: &BTreeSet<String>, group_ids: &BTreeMap<String, String>) -> Result<Vec<String>> {
    names
        .iter()
        .map(|n| {
            group_ids
                .get(n)
                .cloned()
                .with_context(|| format!("the security group {n} is missing"))
        })
        .collect()
}

impl Instance {
    /// The AMI to create the instance from: the configured one, or the SSM parameter's.
    async fn image(&self, aws: &Aws) -> Result<String> {
        if let Some(ami) = &self.ami {
            return Ok(ami.clone());
        }
        let parameter = &self.ami_parameter;
        let reply = found(
            aws.ssm.get_parameter().name(parameter).send().await,
            |e| e.is_parameter_not_found(),
            || format!("looking up the AMI in {parameter}"),
        )?;
        let Some(reply) = reply else {
            anyhow::bail!(
                "instance.ami_parameter: {parameter} does not exist in {}; give an AMI id as instance.ami",
                aws.region
            );
        };
        reply
            .parameter
            .and_then(|p| p.value)
            .with_context(|| format!("the SSM parameter {parameter} has no value"))
    }

    /// Starts the instance in the security groups `groups` (by id) and waits until it runs; its
    /// id.
    async fn create(&self, aws: &Aws, groups: Vec<String>) -> Result<String> {
        let ami = self.image(aws).await?;
        let root_device = aws
            .ec2
            .describe_images()
            .image_ids(&ami)
            .send()
            .await
            .map_err(sdk_error(format!("reading the AMI {ami}")))?
            .images()
            .first()
            .with_context(|| format!("instance.ami: there is no AMI {ami} in {}", aws.region))?
            .root_device_name()
            .unwrap_or("/dev/sda1")
            .to_owned();
        let run = || {
            aws.ec2
                .run_instances()
                .image_id(&ami)
                .instance_type(InstanceType::from(self.instance_type.as_str()))
                .min_count(1)
                .max_count(1)
                .key_name(&self.key_pair)
                .set_security_group_ids(Some(groups.clone()))
                .iam_instance_profile(
                    IamInstanceProfileSpecification::builder()
                        .name(&self.instance_profile)
                        .build(),
                )
                .metadata_options(
                    InstanceMetadataOptionsRequest::builder()
                        .http_tokens(HttpTokensState::Required)
                        .http_endpoint(InstanceMetadataEndpointState::Enabled)
                        .http_put_response_hop_limit(IMDS_HOP_LIMIT)
                        .build(),
                )
                .block_device_mappings(
                    BlockDeviceMapping::builder()
                        .device_name(&root_device)
                        .ebs(
                            EbsBlockDevice::builder()
                                .volume_size(self.root_volume_gb)
                                .volume_type(VolumeType::Gp3)
                                .encrypted(true)
                                .delete_on_termination(true)
                                .build(),
                        )
                        .build(),
                )
                .user_data(base64::engine::general_purpose::STANDARD.encode(&self.user_data))
                .tag_specifications(ec2::tag_specification(ResourceType::Instance, &self.tags))
                .tag_specifications(ec2::tag_specification(ResourceType::Volume, &self.tags))
                .send()
        };
        let reply = retry_propagation(
            "starting the instance",
            PROPAGATION_ATTEMPTS,
            PROPAGATION_DELAY,
            |err| {
                has_code(err, "InvalidParameterValue")
                    && format!("{err:?}").contains("nstance")
                    && format!("{err:?}").to_lowercase().contains("profile")
            },
            run,
        )
        .await
        .map_err(sdk_error(format!("starting the instance {}", self.name)))?;
        let id = reply
            .instances()
            .first()
            .and_then(|i| i.instance_id())
            .context("EC2 did not give the new instance's id")?
            .to_owned();
        wait_running(aws, &id).await?;
        Ok(id)
    }

    /// Changes what differs between `have` and `self` in place; `groups` are the security
    /// groups by id. A stopped instance (or one stopped to change its type) is started again
    /// and waited for until it runs.
    async fn update(&self, aws: &Aws, have: &Observed, groups: Vec<String>) -> Result<()> {
        let id = &have.id;
        if have.instance_type != self.instance_type {
            // The type can only change while stopped.
            if have.state != "stopped" {
                aws.ec2
                    .stop_instances()
                    .instance_ids(id)
                    .send()
                    .await
                    .map_err(sdk_error(format!("stopping {id} to change its type")))?;
                aws.ec2
                    .wait_until_instance_stopped()
                    .instance_ids(id)
                    .wait(STATE_TIMEOUT)
                    .await
                    .map_err(waited(format!("the instance {id} to stop"), STATE_TIMEOUT))?;
            }
            aws.ec2
                .modify_instance_attribute()
                .instance_id(id)
                .instance_type(
                    aws_sdk_ec2::types::AttributeValue::builder()
                        .value(&self.instance_type)
                        .build(),
                )
                .send()
                .await
                .map_err(sdk_error(format!("changing the type of {id}")))?;
        }
        if have.security_groups != self.security_groups {
            aws.ec2
                .modify_instance_attribute()
                .instance_id(id)
                .set_groups(Some(groups))
                .send()
                .await
                .map_err(sdk_error(format!("setting the security groups of {id}")))?;
        }
        if !have.imds_v2_required || have.imds_hop_limit != IMDS_HOP_LIMIT {
            aws.ec2
                .modify_instance_metadata_options()
                .instance_id(id)
                .http_tokens(HttpTokensState::Required)
                .http_endpoint(InstanceMetadataEndpointState::Enabled)
                .http_put_response_hop_limit(IMDS_HOP_LIMIT)
                .send()
                .await
                .map_err(sdk_error(format!("requiring IMDSv2 on {id}")))?;
        }
        if have.instance_profile.as_deref() != Some(self.instance_profile.as_str()) {
            self.set_profile(aws, id).await?;
        }
        if crate::stack::tags_missing(&self.tags, &have.tags) {
            ec2::create_tags(aws, id, &self.tags, id).await?;
        }
        if have.instance_type != self.instance_type || have.state == "stopped" {
            aws.ec2
                .start_instances()
                .instance_ids(id)
                .send()
                .await
                .map_err(sdk_error(format!("starting {id}")))?;
            wait_running(aws, id).await?;
        } else if have.state == "stopping" {
            anyhow::bail!("the instance {id} is stopping; run provision again once it has stopped");
        }
        Ok(())
    }

    /// Gives the instance `id` the instance profile: replaces its association, or makes one.
    async fn set_profile(&self, aws: &Aws, id: &str) -> Result<()> {
        let name = &self.instance_profile;
        let profile = IamInstanceProfileSpecification::builder()
            .name(name)
            .build();
        let association = aws
            .ec2
            .describe_iam_instance_profile_associations()
            .filters(Filter::builder().name("instance-id").values(id).build())
            .send()
            .await
            .map_err(sdk_error(format!(
                "reading the profile association of {id}"
            )))?
            .iam_instance_profile_associations()
            .first()
            .and_then(|a| a.association_id())
            .map(str::to_owned);
        let what = format!("giving {id} the instance profile {name}");
        match association {
            Some(association) => {
                aws.ec2
                    .replace_iam_instance_profile_association()
                    .association_id(association)
                    .iam_instance_profile(profile)
                    .send()
                    .await
                    .map_err(sdk_error(what))?;
            }
            None => {
                aws.ec2
                    .associate_iam_instance_profile()
                    .instance_id(id)
                    .iam_instance_profile(profile)
                    .send()
                    .await
                    .map_err(sdk_error(what))?;
            }
        }
        Ok(())
    }
}

impl Resource for Instance {
    type Observed = Observed;
    const KIND: &'static str = "ec2 instance";
    const AFTER: &'static [&'static str] = &["key pair", "security group", "iam role"];
    const READS_AFTER: &'static [&'static str] = &["security group"];

    async fn desired(_: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<Self>> {
        let mut tags = config.tags();
        tags.insert("Name".into(), name(config));
        Ok(vec![Instance {
            name: name(config),
            filters: ec2::named(config, name(config)),
            instance_type: config.instance.instance_type.clone(),
            ami: config.instance.ami.clone(),
            ami_parameter: config.instance.ami_parameter.clone(),
            key_pair: super::key_pair::KeyPair::of(config, known.public_key.clone()).name,
            security_groups: [config.name("web"), config.name("ssh")].into(),
            instance_profile: config.name("instance"),
            root_volume_gb: i32::try_from(config.instance.root_volume_gb).unwrap_or(i32::MAX),
            user_data: user_data(config),
            tags,
        }])
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    /// Security groups are shown by name where they are the stack's (`known.groups`).
    async fn observe(&self, aws: &Aws, known: &Known) -> Result<Option<Observed>> {
        let instances = find(aws, &self.filters).await?;
        if instances.len() > 1 {
            let ids: Vec<&str> = instances.iter().filter_map(|i| i.instance_id()).collect();
            anyhow::bail!(
                "the stack has {} instances named {} ({}); terminate the ones you do not want",
                instances.len(),
                self.name,
                ids.join(", ")
            );
        }
        Ok(instances
            .first()
            .map(|instance| as_observed(instance, &known.group_names())))
    }

    /// Its id: the address is associated with it.
    fn learn(&self, observed: Option<&Observed>, known: &mut Known) {
        known.instance = observed.map(|o| o.id.clone());
    }

    fn diff(&self, observed: Option<&Observed>, _: &Known) -> Change {
        Diff::of(observed, |have, diff| {
            diff.field("state", running(&have.state), "running");
            diff.field("instance_type", &have.instance_type, &self.instance_type);
            diff.field(
                "security_groups",
                joined(&have.security_groups),
                joined(&self.security_groups),
            );
            diff.field(
                "instance_profile",
                have.instance_profile.as_deref().unwrap_or("(none)"),
                &self.instance_profile,
            );
            diff.field(
                "imdsv2",
                if have.imds_v2_required {
                    "required"
                } else {
                    "optional"
                },
                "required",
            );
            diff.field("imds_hop_limit", have.imds_hop_limit, IMDS_HOP_LIMIT);
            diff.tags(&have.tags, &self.tags);
        })
    }

    /// A new or restarted instance is waited for until it runs; its id becomes
    /// `known.instance`.
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, known: &mut Known) -> Result<()> {
        let groups = ids_of(&self.security_groups, &known.groups)?;
        let id = match observed {
            None => self.create(aws, groups).await?,
            Some(have) => {
                self.update(aws, have, groups).await?;
                have.id.clone()
            }
        };
        known.instance = Some(id);
        Ok(())
    }

    fn unhealthy(observed: &Observed) -> Option<String> {
        (observed.state != "running").then(|| observed.state.clone())
    }

    /// Terminates the stack's instances and waits until they are gone.
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let ids: Vec<String> = find(aws, &ec2::named(config, name(config)))
            .await?
            .iter()
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect();
        if ids.is_empty() {
            return Ok(vec![]);
        }
        aws.ec2
            .terminate_instances()
            .set_instance_ids(Some(ids.clone()))
            .send()
            .await
            .map_err(sdk_error(format!("terminating {}", ids.join(", "))))?;
        aws.ec2
            .wait_until_instance_terminated()
            .set_instance_ids(Some(ids.clone()))
            .wait(STATE_TIMEOUT)
            .await
            .map_err(waited(
                format!("{} to terminate", ids.join(", ")),
                STATE_TIMEOUT,
            ))?;
        Ok(vec![name(config)])
    }
}

async fn wait_running(aws: &Aws, id: &str) -> Result<()> {
    aws.ec2
        .wait_until_instance_running()
        .instance_ids(id)
        .wait(STATE_TIMEOUT)
        .await
        .map(drop)
        .map_err(waited(format!("the instance {id} to run"), STATE_TIMEOUT))
}
