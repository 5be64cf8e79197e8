//! The incident generator: from a seed, one compromised-account incident composed of independent
//! parts (tenant, entry, attacker infrastructure, persistence, spread, noise, timing), written as
//! an ordinary scenario with its answer key. The key is built from the same parts the tenant is
//! built from, never from Firebreak's own rules. SCENARIOS.md, "Generated incidents", lists the
//! parts and how to reproduce a seed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::scenario::Scenario;

/// How large a generated tenant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Size {
    /// 20–40 users: fast enough for hundreds of runs in a test.
    Small,
    /// 150–300 users, the organisation Firebreak is built for.
    Org,
    /// 1,000–2,000 users.
    Large,
}

impl FromStr for Size {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "small" => Ok(Size::Small),
            "org" => Ok(Size::Org),
            "large" => Ok(Size::Large),
            other => Err(format!(
                "unknown size '{other}': use small, org or large"
            )),
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Size::Small => "small",
            Size::Org => "org",
            Size::Large => "large",
        })
    }
}

/// One generated incident: the scenario named `generated-<seed>-<size>`, titled with its seed.
pub fn generate(seed: u64, size: Size) -> Result<Scenario, SimError> {
    // Placeholder while the composer is written: the shipped aitm scenario under the generated
    // name. Replaced by `compose(&draw(seed, size))`.
    let mut scenario = Scenario::builtin("aitm")?;
    scenario.name = format!("generated-{seed}-{size}");
    scenario.title = format!("A new incident (seed {seed}, {size})");
    Ok(scenario)
}
