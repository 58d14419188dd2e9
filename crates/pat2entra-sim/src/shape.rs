//! The simulator's contract with Microsoft's examples, for tests: an answer of the simulator
//! carries the fields of the spec's example, with the JSON types the example shows.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The JSON type of a value: `null`, `bool`, `number`, `string`, `array` or `object`.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// For each field name seen in `items` (objects), the JSON types it takes.
pub fn field_types(items: &[Value]) -> BTreeMap<String, BTreeSet<&'static str>> {
    let mut fields: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for item in items {
        for (k, v) in item.as_object().expect("items are objects") {
            fields.entry(k.clone()).or_default().insert(kind(v));
        }
    }
    fields
}

/// Panics unless every field the simulator sends exists in the examples (or, for `extra`, in
/// the spec's schema, with its types written `string|null`) with a type the examples show (a
/// field only ever `null` there may carry a string or an array), and every field all example
/// items have, all simulator items have too. `what` names the model in the message.
pub fn assert_same_shape(what: &str, sim_items: &[Value], example_items: &[Value], extra: &[(&str, &str)]) {
    assert!(!sim_items.is_empty(), "{what}: nothing to compare");
    let expected = field_types(example_items);
    for (field, types) in field_types(sim_items) {
        let allowed: BTreeSet<&str> = match expected.get(&field) {
            Some(t) => t.clone(),
            None => {
                let (_, t) = extra
                    .iter()
                    .find(|(name, _)| *name == field)
                    .unwrap_or_else(|| panic!("{what}: the simulator sends '{field}', which no example or schema has"));
                t.split('|').collect()
            }
        };
        for t in types {
            let ok = allowed.contains(t) || (allowed == ["null"].into() && matches!(t, "string" | "array"));
            assert!(ok, "{what}.{field}: simulator sends {t}, examples show {allowed:?}");
        }
    }
    for field in expected.keys() {
        if example_items.iter().all(|i| i.get(field).is_some()) {
            assert!(sim_items.iter().all(|i| i.get(field).is_some()), "{what}: simulator items lack '{field}'");
        }
    }
}
