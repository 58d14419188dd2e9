//! What the rules benches share: the simulator's generated organization as a complete
//! inventory, and the date they judge at. Building it is not part of what they measure.

use chrono::{DateTime, TimeZone, Utc};
use pat2entra::Text;
use pat2entra::inventory::{Coverage, Inventory, Owner, Token};
use pat2entra::sim::{SimOrg, SimUser};
use std::collections::HashMap;

/// The date every bench judges at (the simulator's anchor).
pub fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
}

/// A generated organization (seed 42): its users, and every user's tokens as a scan reads them.
pub struct Organization {
    pub users: Vec<SimUser>,
    pub tokens: Vec<Token>,
}

pub fn organization(users: usize) -> Organization {
    let org = SimOrg::generate("bench", 42, users, as_of(), None);
    let users: Vec<SimUser> = org.users().collect();
    // As a scan shares them: one descriptor per owner, one id per organization.
    let tokens = pat2entra::text::interned(|| {
        org.all_tokens()
            .iter()
            .enumerate()
            .flat_map(|(i, ts)| {
                let owner = Text::from(users[i].descriptor.as_str());
                ts.iter().map(|t| t.to_inventory(owner.clone())).collect::<Vec<_>>()
            })
            .collect()
    });
    Organization { users, tokens }
}

/// A complete inventory (every owner read) of `tokens`, owned by `users`.
pub fn inventory(users: &[SimUser], tokens: Vec<Token>) -> Inventory {
    // The owners share their descriptors with their tokens.
    let shared: HashMap<&str, &Text> = tokens.iter().map(|t| (t.owner.as_str(), &t.owner)).collect();
    let owners: Vec<Owner> = users
        .iter()
        .map(|u| (u, Text::from(u.principal_name.as_str())))
        .map(|(u, principal)| Owner {
            descriptor: shared
                .get(u.descriptor.as_str())
                .map_or_else(|| u.descriptor.as_str().into(), |t| (*t).clone()),
            display_name: u.display_name.clone(),
            principal_name: principal.clone(),
            // As the scanner shares them: the mail, when it is the principal name, is one value with it.
            mail: Some(if u.mail == u.principal_name { principal.clone() } else { u.mail.as_str().into() }),
            origin: u.origin.as_str().into(),
            deleted_in_origin: u.deleted_in_origin,
            ..Default::default()
        })
        .collect();
    Inventory {
        organization: "bench".into(),
        coverage: Coverage::new(owners.len(), owners.len(), vec![]),
        owners,
        tokens,
        evidence: Default::default(),
        service: Default::default(),
    }
}
