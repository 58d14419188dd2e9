//! The simulator's revocations over real HTTP: Microsoft's example body answered 204, an entry
//! without an id answered 400, a revoked PAT or SSH key listed as invalid from then on (only for
//! its own `isPublic`), counts per id, faults, and the failure point.

use chrono::{TimeZone, Utc};
use pat2entra_sim::{Faults, SimConfig, SimHandle};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/ado-api/tokenAdmin/7.1/httpExamples/revocations/RevokeAuthorizations.json"
);

async fn start(config: SimConfig) -> SimHandle {
    let config = SimConfig { anchor: Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap(), users: 40, ..config };
    pat2entra_sim::start(config, 0).await.expect("the simulator starts on loopback")
}

async fn revoke(sim: &SimHandle, is_public: bool, body: &Value) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/fabrikam/_apis/tokenadmin/revocations", sim.base_url()))
        .query(&[("isPublic", if is_public { "true" } else { "false" }), ("api-version", "7.1")])
        .basic_auth("", Some("any"))
        .json(body)
        .send()
        .await
        .expect("the simulator answers")
        .status()
        .as_u16()
}

/// `isValid` of each credential of one owner, as Token Admin lists it now.
async fn listed(sim: &SimHandle, descriptor: &str, is_public: bool) -> Vec<(String, bool)> {
    let page: Value = reqwest::Client::new()
        .get(format!("{}/fabrikam/_apis/tokenadmin/personalaccesstokens/{descriptor}", sim.base_url()))
        .query(&[("pageSize", "100"), ("isPublic", if is_public { "true" } else { "false" }), ("api-version", "7.1")])
        .basic_auth("", Some("any"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["authorizationId"].as_str().unwrap().to_string(), t["isValid"].as_bool().unwrap()))
        .collect()
}

#[tokio::test]
async fn the_spec_example_is_answered_204_and_a_missing_id_400() {
    let sim = start(SimConfig::default()).await;
    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    let example: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap();
    assert_eq!(revoke(&sim, false, &example["parameters"]["body"]).await, 204);
    assert_eq!(sim.stats().revocations.load(Ordering::SeqCst), 7);
    assert_eq!(revoke(&sim, false, &json!([{"authorizationId": "a"}, {"scope": "x"}])).await, 400);
    assert_eq!(revoke(&sim, false, &json!([{"authorizationId": ""}])).await, 400);
    assert_eq!(revoke(&sim, false, &json!({"authorizationId": "a"})).await, 400);
    assert_eq!(sim.stats().revocations.load(Ordering::SeqCst), 7, "a refused request revokes nothing");
    assert_eq!(sim.stats().revocation_posts.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_revoked_credential_lists_as_invalid_for_its_own_kind_only() {
    let sim = start(SimConfig::default()).await;
    let org = sim.org();
    let (owner, pat) = org
        .users()
        .zip(org.all_tokens())
        .find_map(|(u, tokens)| tokens.into_iter().find(|t| t.is_valid).map(|t| (u.descriptor, t)))
        .unwrap();
    // Revoked as an SSH key: the PAT stays valid.
    assert_eq!(revoke(&sim, true, &json!([{"authorizationId": pat.authorization_id}])).await, 204);
    assert!(listed(&sim, &owner, false).await.contains(&(pat.authorization_id.clone(), true)));
    assert_eq!(revoke(&sim, false, &json!([{"authorizationId": pat.authorization_id}])).await, 204);
    let now = listed(&sim, &owner, false).await;
    assert!(now.contains(&(pat.authorization_id.clone(), false)), "{now:?}");
    assert_eq!(
        now.iter().filter(|(_, valid)| !valid).count(),
        org.tokens_of(org.user_index(&owner).unwrap()).iter().filter(|t| !t.is_valid).count() + 1
    );
    assert_eq!(sim.revocations_by_id()[&pat.authorization_id], 2);

    // An SSH key.
    let (key_owner, key) = (0..org.user_count())
        .find_map(|i| org.ssh_keys_of(i).into_iter().find(|k| k.is_valid).map(|k| (org.user(i).unwrap().descriptor, k)))
        .expect("the seed has SSH keys");
    assert_eq!(revoke(&sim, true, &json!([{"authorizationId": key.authorization_id}])).await, 204);
    assert!(listed(&sim, &key_owner, true).await.contains(&(key.authorization_id.clone(), false)));
}

#[tokio::test]
async fn faults_and_the_failure_point_revoke_nothing() {
    let sim =
        start(SimConfig { faults: Faults { unavailable_rate: 1.0, ..Faults::default() }, ..SimConfig::default() })
            .await;
    assert_eq!(revoke(&sim, false, &json!([{"authorizationId": "a"}])).await, 503);
    assert_eq!(sim.stats().revocations.load(Ordering::SeqCst), 0);

    let sim = start(SimConfig::default()).await;
    sim.allow_revocations(Some(2));
    assert_eq!(revoke(&sim, false, &json!([{"authorizationId": "a"}, {"authorizationId": "b"}])).await, 204);
    assert_eq!(revoke(&sim, false, &json!([{"authorizationId": "c"}])).await, 500);
    sim.allow_revocations(None);
    assert_eq!(revoke(&sim, false, &json!([{"authorizationId": "c"}])).await, 204);
    assert_eq!(sim.revocations_by_id().len(), 3);
}
