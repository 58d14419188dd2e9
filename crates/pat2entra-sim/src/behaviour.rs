//! The readings of the service Microsoft's documents leave open, one switch each, so that the
//! scanner and `whoami --probe` can be run against every variant (`simulate --behaviour ...`):
//! does Token Admin fill `targetAccounts`, list revoked and expired PATs and how it marks them,
//! how it ends paging, the largest `pageSize` it accepts. Also the lifecycle API
//! (`_apis/tokens/pats`), which lists the caller's own PATs and always fills `targetAccounts`.

use super::http::{Reply, Request, Response};
use super::org::SimToken;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::fmt;

/// How Token Admin ends its paging.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PagingEnd {
    /// `"continuationToken": null` (the spec and its example).
    #[default]
    Null,
    /// `"continuationToken": ""`.
    Empty,
    /// `"continuationToken": "00000000-0000-0000-0000-000000000000"` (what Microsoft's C# sample
    /// also stops on).
    ZeroGuid,
}

/// One variant of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behaviour {
    /// Token Admin fills `targetAccounts` (`false`: `null` on every token, as in Microsoft's
    /// Token Admin example).
    pub fills_target_accounts: bool,
    /// Token Admin lists revoked PATs.
    pub lists_revoked: bool,
    /// Token Admin lists expired PATs.
    pub lists_expired: bool,
    /// Token Admin marks expired PATs `isValid: false`.
    pub expired_marked_invalid: bool,
    pub paging_end: PagingEnd,
    /// Token Admin answers 400 to a `pageSize` above this (`None`: any size, clamped to
    /// `SimConfig::max_token_page_size`).
    pub page_size_limit: Option<usize>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            fills_target_accounts: true,
            lists_revoked: true,
            lists_expired: true,
            expired_marked_invalid: false,
            paging_end: PagingEnd::Null,
            page_size_limit: None,
        }
    }
}

/// A `--behaviour` that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--behaviour '{0}': expected a comma-separated list of target-accounts=filled|empty, revoked=listed|hidden, \
     expired=listed|hidden|invalid, end=null|empty|zero-guid, page-size-limit=N (e.g. target-accounts=empty,end=zero-guid)"
)]
pub struct BadBehaviour(pub String);

impl std::str::FromStr for Behaviour {
    type Err = BadBehaviour;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut b = Behaviour::default();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let bad = || BadBehaviour(item.to_string());
            let (key, value) = item.split_once('=').ok_or_else(bad)?;
            match (key.trim(), value.trim()) {
                ("target-accounts", "filled") => b.fills_target_accounts = true,
                ("target-accounts", "empty") => b.fills_target_accounts = false,
                ("revoked", "listed") => b.lists_revoked = true,
                ("revoked", "hidden") => b.lists_revoked = false,
                ("expired", "listed") => (b.lists_expired, b.expired_marked_invalid) = (true, false),
                ("expired", "invalid") => (b.lists_expired, b.expired_marked_invalid) = (true, true),
                ("expired", "hidden") => b.lists_expired = false,
                ("end", "null") => b.paging_end = PagingEnd::Null,
                ("end", "empty") => b.paging_end = PagingEnd::Empty,
                ("end", "zero-guid") => b.paging_end = PagingEnd::ZeroGuid,
                ("page-size-limit", n) => b.page_size_limit = Some(n.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?),
                _ => return Err(bad()),
            }
        }
        Ok(b)
    }
}

impl fmt::Display for Behaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "target-accounts={},revoked={},expired={},end={}",
            if self.fills_target_accounts { "filled" } else { "empty" },
            if self.lists_revoked { "listed" } else { "hidden" },
            match (self.lists_expired, self.expired_marked_invalid) {
                (false, _) => "hidden",
                (true, true) => "invalid",
                (true, false) => "listed",
            },
            match self.paging_end {
                PagingEnd::Null => "null",
                PagingEnd::Empty => "empty",
                PagingEnd::ZeroGuid => "zero-guid",
            }
        )?;
        if let Some(n) = self.page_size_limit {
            write!(f, ",page-size-limit={n}")?;
        }
        Ok(())
    }
}

impl Behaviour {
    /// Whether Token Admin lists this token at `now`.
    pub fn lists(&self, t: &SimToken, now: DateTime<Utc>) -> bool {
        (t.is_valid || self.lists_revoked) && (t.valid_to > now || self.lists_expired)
    }

    /// The `continuationToken` of Token Admin's last page.
    pub fn end_value(&self) -> Value {
        match self.paging_end {
            PagingEnd::Null => Value::Null,
            PagingEnd::Empty => json!(""),
            PagingEnd::ZeroGuid => json!("00000000-0000-0000-0000-000000000000"),
        }
    }

    /// `targetAccounts` and `isValid` as Token Admin shows them.
    pub fn shown(&self, t: &SimToken, now: DateTime<Utc>) -> (Option<Vec<String>>, bool) {
        let targets = if self.fills_target_accounts { t.target_accounts.clone() } else { None };
        let valid = t.is_valid && !(self.expired_marked_invalid && t.valid_to <= now);
        (targets, valid)
    }

    /// A `pageSize` above the limit: the service's 400.
    pub fn refuses_page_size(&self, asked: usize) -> bool {
        self.page_size_limit.is_some_and(|limit| asked > limit)
    }
}

/// `GET https://vssps.dev.azure.com/{org}/_apis/tokens/pats` (the lifecycle API): the caller's
/// own PATs, `{"continuationToken", "patTokens"}` as in Microsoft's example
/// (specs/tokens/7.1/httpExamples/Pats/ListPats.json): `targetAccounts` filled or `null` for a
/// global PAT, the last page ending with `""`. `displayFilterOption` is `active`, `revoked`,
/// `expired` or `all` (default `active`); `$top` at most 100. Only a user's Entra token may call
/// it ("users must provide a Microsoft Entra access token"; "you can't use service principals"):
/// `caller_is_user_bearer` is false for a PAT or an application.
pub fn lifecycle_list(
    request: &Request,
    tokens: &[SimToken],
    now: DateTime<Utc>,
    caller_is_user_bearer: bool,
) -> Reply {
    if !caller_is_user_bearer {
        return Reply::Response(super::error(401, "The requested operation is not allowed.", "InvalidAccessException"));
    }
    let filter = request.query("displayFilterOption").unwrap_or("active").to_ascii_lowercase();
    let keep = |t: &SimToken| match filter.as_str() {
        "all" => true,
        "revoked" => !t.is_valid,
        "expired" => t.is_valid && t.valid_to <= now,
        _ => t.is_valid && t.valid_to > now,
    };
    if !["all", "revoked", "expired", "active"].contains(&filter.as_str()) {
        return Reply::Response(super::error(400, "The display filter option is not valid.", "ArgumentException"));
    }
    let top = match request.query("$top").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return Reply::Response(super::error(400, "$top must be between 1 and 100.", "ArgumentException")),
    };
    let listed: Vec<&SimToken> = tokens.iter().filter(|t| keep(t)).collect();
    let start = match request.query("continuationToken").filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => match c.strip_prefix("pats;").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) if n < listed.len() => n,
            _ => {
                return Reply::Response(super::error(400, "The continuation token is not valid.", "ArgumentException"));
            }
        },
    };
    let end = (start + top).min(listed.len());
    let pats: Vec<Value> = listed[start..end]
        .iter()
        .map(|t| {
            json!({
                "displayName": t.display_name,
                "validTo": t.valid_to.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                "scope": t.scope,
                "targetAccounts": t.target_accounts,
                "validFrom": t.valid_from.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                "authorizationId": t.authorization_id,
                "token": null,
            })
        })
        .collect();
    let next = if end < listed.len() { format!("pats;{end}") } else { String::new() };
    Reply::Response(Response::json(200, &json!({"continuationToken": next, "patTokens": pats})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaviours_read_and_show_the_same() {
        let b: Behaviour =
            "target-accounts=empty, revoked=hidden,expired=invalid,end=zero-guid,page-size-limit=50".parse().unwrap();
        assert!(!b.fills_target_accounts && !b.lists_revoked && b.lists_expired && b.expired_marked_invalid);
        assert_eq!(b.paging_end, PagingEnd::ZeroGuid);
        assert_eq!(b.to_string().parse::<Behaviour>().unwrap(), b);
        assert_eq!("".parse::<Behaviour>().unwrap(), Behaviour::default());
        assert!("end=maybe".parse::<Behaviour>().unwrap_err().to_string().contains("'end=maybe'"));
        assert!("page-size-limit=0".parse::<Behaviour>().is_err());
    }
}
