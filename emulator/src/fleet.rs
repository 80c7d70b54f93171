//! The fleet file (TOML): operator, credentials, devices and synthetic device generation.

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Default operator id when the fleet file names none.
pub const DEFAULT_OPERATOR_ID: &str = "OP0000000000";
/// Default speed class of a device.
pub const DEFAULT_SPEED_CLASS: &str = "s1.standard";

/// A parsed fleet file (see docs/DESIGN.md "Fleet file").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    /// Operator owning every SIM and mapping.
    #[serde(default = "default_operator_id")]
    pub operator_id: String,
    /// Maximum items per page of list endpoints (`limit` can only shrink it).
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    /// `hostname` of every mapping (must resolve locally).
    #[serde(default = "default_hostname")]
    pub napter_hostname: String,
    /// Who may `POST /v1/auth`.
    #[serde(default)]
    pub credentials: Vec<Credential>,
    /// Declared devices.
    #[serde(default)]
    pub devices: Vec<FleetDevice>,
    /// Synthetic devices to add.
    #[serde(default)]
    pub generate: Option<Generate>,
    /// Settings of spawned sshd devices.
    #[serde(default)]
    pub ssh: SshSettings,
}

/// One credential accepted by `POST /v1/auth` (AuthKey, root e-mail or SAM user form).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// AuthKey id.
    #[serde(default)]
    pub auth_key_id: Option<String>,
    /// AuthKey secret.
    #[serde(default)]
    pub auth_key: Option<String>,
    /// Root account e-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Operator id of a SAM user.
    #[serde(default)]
    pub operator_id: Option<String>,
    /// SAM user name.
    #[serde(default)]
    pub user_name: Option<String>,
    /// Password (root or SAM user).
    #[serde(default)]
    pub password: Option<String>,
    /// SAM-style denied operations, e.g. `PortMapping:createPortMapping` (403 for those).
    #[serde(default)]
    pub deny: Vec<String>,
}

/// One declared device.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetDevice {
    /// The `name` tag (any text, even hostile).
    pub name: String,
    /// SIM id; generated (19 digits) when absent.
    #[serde(default)]
    pub sim_id: Option<String>,
    /// IMSI; generated (15 digits) when absent.
    #[serde(default)]
    pub imsi: Option<String>,
    /// Whether the SIM has a session.
    #[serde(default)]
    pub online: bool,
    /// Group id.
    #[serde(default)]
    pub group_id: Option<String>,
    /// Speed class (default `s1.standard`).
    #[serde(default)]
    pub speed_class: Option<String>,
    /// Custom tags besides `name`.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `"spawn"`, `"host:port"`, or absent (nothing listens).
    #[serde(default)]
    pub ssh: Option<String>,
    /// Other device ports: `{ 8080 = "127.0.0.1:NNNN" }` — a mapping to that device port
    /// forwards there (any port not listed forwards to the SSH target).
    #[serde(default)]
    pub ports: BTreeMap<String, String>,
}

/// `[generate]`: N synthetic devices for benchmarks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    /// How many devices to add.
    pub count: usize,
    /// Share of them that is online (0.0–1.0).
    #[serde(default = "default_online_ratio")]
    pub online_ratio: f64,
}

/// `[ssh]`: settings of spawned sshd devices.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshSettings {
    /// File copied as `authorized_keys` into every spawned device.
    #[serde(default)]
    pub authorized_keys: Option<PathBuf>,
    /// Informational: the login user (the current user is what sshd allows).
    #[serde(default)]
    pub users_allowed: Option<String>,
}

/// Where a device's SSH service is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshTarget {
    /// Nothing listens: connections through a mapping fail.
    None,
    /// A real sshd spawned by the emulator.
    Spawn,
    /// Forward to this address.
    Forward(String),
}

/// A device with every id filled in (the output of [`Fleet::resolved_devices`]).
#[derive(Debug, Clone)]
pub struct ResolvedDevice {
    /// The `name` tag.
    pub name: String,
    /// SIM id (also the ICCID of its single profile).
    pub sim_id: String,
    /// IMSI of the single subscriber.
    pub imsi: String,
    /// Whether online (at start; the emulator's `Device` keeps it current).
    pub online: bool,
    /// Group id.
    pub group_id: Option<String>,
    /// Speed class.
    pub speed_class: String,
    /// Custom tags (without `name`).
    pub tags: BTreeMap<String, String>,
    /// SSH service.
    pub ssh: SshTarget,
    /// Other device ports and where they forward (`ports` in the fleet file).
    pub ports: BTreeMap<u16, String>,
}

fn default_operator_id() -> String {
    DEFAULT_OPERATOR_ID.to_string()
}
fn default_page_size() -> usize {
    100
}
fn default_hostname() -> String {
    "localhost".to_string()
}
fn default_online_ratio() -> f64 {
    0.7
}

impl Default for Fleet {
    fn default() -> Self {
        Fleet {
            operator_id: default_operator_id(),
            page_size: default_page_size(),
            napter_hostname: default_hostname(),
            credentials: Vec::new(),
            devices: Vec::new(),
            generate: None,
            ssh: SshSettings::default(),
        }
    }
}

impl Fleet {
    /// Parses a fleet from TOML text.
    pub fn from_toml_str(text: &str) -> anyhow::Result<Fleet> {
        let fleet: Fleet = toml::from_str(text).context("parsing fleet TOML")?;
        fleet.validate()?;
        Ok(fleet)
    }

    /// Reads and parses a fleet file.
    pub fn load(path: impl AsRef<Path>) -> anyhow::Result<Fleet> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading fleet file {}", path.display()))?;
        Self::from_toml_str(&text).with_context(|| format!("in fleet file {}", path.display()))
    }

    /// Checks the fleet for mistakes that would make the emulator misbehave.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.page_size == 0 {
            bail!("page_size must be at least 1");
        }
        if let Some(g) = &self.generate {
            if !(0.0..=1.0).contains(&g.online_ratio) {
                bail!("generate.online_ratio must be within 0.0..=1.0");
            }
        }
        for d in &self.devices {
            parse_ssh(d.ssh.as_deref()).with_context(|| format!("device {:?}", d.name))?;
            parse_ports(&d.ports).with_context(|| format!("device {:?}", d.name))?;
        }
        Ok(())
    }

    /// Every device (declared, then generated) with generated ids filled in; ids are
    /// deterministic (from the name for declared devices, from the index for generated ones).
    pub fn resolved_devices(&self) -> anyhow::Result<Vec<ResolvedDevice>> {
        let mut used_sims = HashSet::new();
        let mut used_imsis = HashSet::new();
        for d in &self.devices {
            used_sims.extend(d.sim_id.clone());
            used_imsis.extend(d.imsi.clone());
        }
        let mut out = Vec::with_capacity(self.devices.len() + self.generated_count());
        for d in &self.devices {
            out.push(self.resolve_declared(d, &mut used_sims, &mut used_imsis)?);
        }
        if let Some(g) = &self.generate {
            for i in 0..g.count {
                out.push(generated_device(i, g, &mut used_sims, &mut used_imsis));
            }
        }
        Ok(out)
    }

    fn generated_count(&self) -> usize {
        self.generate.as_ref().map_or(0, |g| g.count)
    }

    fn resolve_declared(
        &self,
        d: &FleetDevice,
        used_sims: &mut HashSet<String>,
        used_imsis: &mut HashSet<String>,
    ) -> anyhow::Result<ResolvedDevice> {
        let seed = fnv1a(d.name.as_bytes());
        let sim_id = match &d.sim_id {
            Some(s) => s.clone(),
            None => unique_digits("8942310", 12, seed, used_sims),
        };
        let imsi = match &d.imsi {
            Some(s) => s.clone(),
            None => unique_digits("44010", 10, seed, used_imsis),
        };
        let mut tags = d.tags.clone();
        tags.remove("name");
        Ok(ResolvedDevice {
            name: d.name.clone(),
            sim_id,
            imsi,
            online: d.online,
            group_id: d.group_id.clone(),
            speed_class: d
                .speed_class
                .clone()
                .unwrap_or_else(|| DEFAULT_SPEED_CLASS.to_string()),
            tags,
            ssh: parse_ssh(d.ssh.as_deref())?,
            ports: parse_ports(&d.ports)?,
        })
    }
}

/// Parses the `ports` table of a device: device port (1–65535) → `host:port`.
fn parse_ports(ports: &BTreeMap<String, String>) -> anyhow::Result<BTreeMap<u16, String>> {
    ports
        .iter()
        .map(|(port, target)| {
            let device_port = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .with_context(|| format!("ports: {port:?} is not a device port (1-65535)"))?;
            match parse_ssh(Some(target)) {
                Ok(SshTarget::Forward(addr)) => Ok((device_port, addr)),
                _ => bail!("ports.{port} must be \"host:port\", got {target:?}"),
            }
        })
        .collect()
}

/// Parses the `ssh` field of a device.
fn parse_ssh(value: Option<&str>) -> anyhow::Result<SshTarget> {
    match value {
        None | Some("") => Ok(SshTarget::None),
        Some("spawn") => Ok(SshTarget::Spawn),
        Some(addr)
            if addr
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok()) =>
        {
            Ok(SshTarget::Forward(addr.to_string()))
        }
        Some(other) => bail!("ssh must be \"spawn\" or \"host:port\", got {other:?}"),
    }
}

const SITES: &[&str] = &["osaka", "tokyo", "nagoya", "fukuoka", "sapporo", "sendai"];
const ROLES: &[&str] = &["kiosk", "sensor", "gateway", "camera", "signage"];

/// Synthetic device number `i`; deterministic so benchmarks are repeatable.
fn generated_device(
    i: usize,
    g: &Generate,
    used_sims: &mut HashSet<String>,
    used_imsis: &mut HashSet<String>,
) -> ResolvedDevice {
    let site = SITES[i % SITES.len()];
    let role = ROLES[(i / SITES.len()) % ROLES.len()];
    let sim_id = unique_digits("89423109", 11, i as u64, used_sims);
    let imsi = unique_digits("440109", 9, i as u64, used_imsis);
    let roll = (fnv1a(&i.to_le_bytes()) % 10_000) as f64 / 10_000.0;
    let mut tags = BTreeMap::new();
    tags.insert("site".to_string(), site.to_string());
    tags.insert("role".to_string(), role.to_string());
    ResolvedDevice {
        name: format!("{role}-{site}-{i:05}"),
        sim_id,
        imsi,
        online: roll < g.online_ratio,
        group_id: Some(format!("grp-{site}")),
        speed_class: DEFAULT_SPEED_CLASS.to_string(),
        tags,
        ssh: SshTarget::None,
        ports: BTreeMap::new(),
    }
}

/// `prefix` followed by `digits` digits derived from `seed`, bumped until unused.
fn unique_digits(prefix: &str, digits: u32, seed: u64, used: &mut HashSet<String>) -> String {
    let modulus = 10u64.pow(digits);
    let mut n = seed % modulus;
    loop {
        let candidate = format!("{prefix}{n:0width$}", width = digits as usize);
        if used.insert(candidate.clone()) {
            return candidate;
        }
        n = (n + 1) % modulus;
    }
}

/// FNV-1a 64-bit hash (stable across runs and platforms).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_generated_deterministically_and_uniquely() {
        let fleet = Fleet::from_toml_str(
            r#"
            [[devices]]
            name = "a"
            [[devices]]
            name = "b"
            sim_id = "8942310000000000001"
            [generate]
            count = 1000
            "#,
        )
        .unwrap();
        let a = fleet.resolved_devices().unwrap();
        let b = fleet.resolved_devices().unwrap();
        assert_eq!(a.len(), 1002);
        assert_eq!(a[0].sim_id, b[0].sim_id);
        assert_eq!(a[0].sim_id.len(), 19);
        assert_eq!(a[0].imsi.len(), 15);
        assert_eq!(a[1].sim_id, "8942310000000000001");
        let sims: HashSet<_> = a.iter().map(|d| &d.sim_id).collect();
        assert_eq!(sims.len(), 1002);
        assert!(a[5].sim_id.len() == 19 && a[5].imsi.len() == 15);
    }

    #[test]
    fn extra_ports_are_parsed_and_checked() {
        let fleet =
            Fleet::from_toml_str("[[devices]]\nname='x'\nports = { 8080 = \"127.0.0.1:9000\" }")
                .unwrap();
        let d = &fleet.resolved_devices().unwrap()[0];
        assert_eq!(
            d.ports.get(&8080).map(String::as_str),
            Some("127.0.0.1:9000")
        );
        for bad in [
            "{ 0 = \"127.0.0.1:1\" }",
            "{ http = \"127.0.0.1:1\" }",
            "{ 80 = \"spawn\" }",
        ] {
            let err =
                Fleet::from_toml_str(&format!("[[devices]]\nname='x'\nports = {bad}")).unwrap_err();
            assert!(format!("{err:#}").contains("ports"), "{bad}: {err:#}");
        }
    }

    #[test]
    fn bad_ssh_value_is_rejected() {
        let err = Fleet::from_toml_str("[[devices]]\nname='x'\nssh='nope'").unwrap_err();
        assert!(format!("{err:#}").contains("ssh must be"));
    }
}
