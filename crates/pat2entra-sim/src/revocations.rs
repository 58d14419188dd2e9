//! Revocations, and the changes an organization goes through between a scan and a revocation:
//! `POST _apis/tokenadmin/revocations` records what it revokes (a revoked credential lists as
//! `isValid: false` from then on), and tests may replace a credential (the old one deleted, a new
//! one created) or move it to another owner.
//!
//! Shape: `specification/tokenAdmin/7.1/tokenAdmin.json` and its example
//! `httpExamples/revocations/RevokeAuthorizations.json` (MicrosoftDocs/vsts-rest-api-specs): a
//! bare JSON array of `{"authorizationId": "<uuid>"}`, `isPublic` (false: PATs, true: SSH keys)
//! and `api-version` in the query; 204 without a body; 400 when an entry has no id.

use crate::http::{Reply, Request, Response};
use crate::{SimHandle, SimState, SimToken, error};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

/// What changed in the organization since it was generated.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    /// Revoked credentials: (`isPublic`, authorization id).
    revoked: HashSet<(bool, String)>,
    /// Replaced credentials: old id -> the credential that replaced it.
    replaced: HashMap<String, SimToken>,
    /// Moved credentials: id -> (new owner's descriptor, the credential).
    moved: HashMap<String, (String, SimToken)>,
}

impl Changes {
    fn is_empty(&self) -> bool {
        self.revoked.is_empty() && self.replaced.is_empty() && self.moved.is_empty()
    }
}

impl SimState {
    /// `POST _apis/tokenadmin/revocations`.
    pub(crate) fn revocations(&self, request: &Request) -> Reply {
        let is_public = request.query("isPublic").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let entries: Vec<serde_json::Value> = match serde_json::from_slice(&request.body) {
            Ok(serde_json::Value::Array(entries)) => entries,
            _ => {
                return Reply::Response(error(
                    400,
                    "The request body must be a list of revocations.",
                    "ArgumentNullException",
                ));
            }
        };
        let mut ids = Vec::with_capacity(entries.len());
        for entry in &entries {
            match entry.get("authorizationId").and_then(|v| v.as_str()).filter(|id| !id.trim().is_empty()) {
                Some(id) => ids.push(id.to_string()),
                None => {
                    return Reply::Response(error(400, "An authorization id is missing.", "ArgumentNullException"));
                }
            }
        }
        let stats = &self.stats;
        // A test's failure point: past the allowance, the whole request fails and nothing is revoked.
        let allowed = self.revocations_allowed.load(Ordering::SeqCst);
        if stats.revocations.load(Ordering::SeqCst).saturating_add(ids.len() as u64) > allowed {
            return Reply::Response(error(500, "Simulated failure of the revocation service.", "SimulatedFault"));
        }
        let mut changes = self.changes.write().unwrap_or_else(|p| p.into_inner());
        let mut by_id = stats.revocations_by_id.lock().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            stats.revocations.fetch_add(1, Ordering::SeqCst);
            *by_id.entry(id.clone()).or_default() += 1;
            changes.revoked.insert((is_public, id));
        }
        Reply::Response(Response { status: 204, headers: Vec::new(), body: Vec::new() })
    }

    /// One owner's credentials of one kind as they are now: replaced ones swapped for their
    /// replacement, moved ones gone from (or added to) this owner, revoked ones invalid.
    pub(crate) fn as_changed(&self, descriptor: &str, is_public: bool, mut tokens: Vec<SimToken>) -> Vec<SimToken> {
        let changes = self.changes.read().unwrap_or_else(|p| p.into_inner());
        if changes.is_empty() {
            return tokens;
        }
        tokens = tokens
            .into_iter()
            .filter(|t| !changes.moved.contains_key(&t.authorization_id))
            .map(|t| changes.replaced.get(&t.authorization_id).cloned().unwrap_or(t))
            .collect();
        tokens.extend(
            changes
                .moved
                .values()
                .filter(|(to, t)| to == descriptor && t.public_data.is_some() == is_public)
                .map(|(_, t)| t.clone()),
        );
        for t in &mut tokens {
            if changes.revoked.contains(&(is_public, t.authorization_id.clone())) {
                t.is_valid = false;
            }
        }
        tokens
    }

    /// The accepted PAT was revoked (`SimHandle::bind_pat`).
    pub(crate) fn pat_revoked(&self) -> bool {
        let bound = self.pat_authorization_id.lock().unwrap_or_else(|p| p.into_inner());
        bound.as_ref().is_some_and(|id| {
            self.changes.read().unwrap_or_else(|p| p.into_inner()).revoked.contains(&(false, id.clone()))
        })
    }

    /// The credential with this id and its owner's position (generates every owner's: tests only).
    fn find(&self, id: &str) -> Option<SimToken> {
        (0..self.org.user_count())
            .flat_map(|i| self.org.tokens_of(i).into_iter().chain(self.org.ssh_keys_of(i)))
            .find(|t| t.authorization_id == id)
    }
}

impl SimHandle {
    /// How often each authorization id was revoked (every `isPublic`).
    pub fn revocations_by_id(&self) -> HashMap<String, u64> {
        self.state.stats.revocations_by_id.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// From now on, a revocation request that would take the revocations recorded past `total`
    /// fails with 500 and revokes nothing (`None`: no limit): a service failing midway.
    pub fn allow_revocations(&self, total: Option<u64>) {
        self.state.revocations_allowed.store(total.unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// Makes `accepted_pat` the PAT with this authorization id: once it is revoked, requests
    /// signed with it are refused (401), as a PAT that revoked itself.
    pub fn bind_pat(&self, id: &str) {
        *self.state.pat_authorization_id.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.to_string());
    }

    /// Replaces a credential as its owner would: the old one is deleted, a new one (another id,
    /// valid) takes its place. Returns the new id, or `None` when no credential has this id.
    pub fn replace_token(&self, id: &str) -> Option<String> {
        let mut replacement = self.state.find(id)?;
        replacement.authorization_id = format!("0000beef{}", &id[8.min(id.len())..]);
        replacement.is_valid = true;
        let new_id = replacement.authorization_id.clone();
        self.state.changes.write().unwrap_or_else(|p| p.into_inner()).replaced.insert(id.to_string(), replacement);
        Some(new_id)
    }

    /// Moves a credential to another owner (as a directory merge might list it). `false` when no
    /// credential has this id.
    pub fn move_token(&self, id: &str, to_descriptor: &str) -> bool {
        let Some(token) = self.state.find(id) else { return false };
        self.state
            .changes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .moved
            .insert(id.to_string(), (to_descriptor.to_string(), token));
        true
    }
}
