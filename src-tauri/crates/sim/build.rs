//! Turns Microsoft's description of Graph (`spec/graph/graph-subset.openapi.json`, the file the
//! conformance test also reads) into a compact Rust table of every schema's own properties with
//! their types, its base type, and every enumeration's members. The simulator reads that table to
//! answer like Graph when a query names a property the entity does not have or compares it with a
//! literal of the wrong type (`src/described.rs`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{Map, Value};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let path = manifest.join("../../../spec/graph/graph-subset.openapi.json");
    println!("cargo:rerun-if-changed={}", path.display());
    println!("cargo:rerun-if-changed=build.rs");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => fail(&format!("cannot read {}: {e}", path.display())),
    };
    let spec: Value = match serde_json::from_str(&text) {
        Ok(spec) => spec,
        Err(e) => fail(&format!("{} is not JSON: {e}", path.display())),
    };
    let Some(schemas) = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        fail("the description has no components.schemas")
    };
    let out = generate(schemas);
    let target = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("described.rs");
    if let Err(e) = std::fs::write(&target, out) {
        fail(&format!("cannot write {}: {e}", target.display()));
    }
}

fn fail(message: &str) -> ! {
    // A build script reports through its exit status; the message is shown by cargo.
    eprintln!("firebreak-sim build: {message}");
    std::process::exit(1)
}

fn ref_name(value: &Value) -> Option<&str> {
    value
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
}

fn is_enum(schemas: &Map<String, Value>, name: &str) -> bool {
    schemas.get(name).is_some_and(|s| s.get("enum").is_some())
}

fn is_object(schemas: &Map<String, Value>, name: &str) -> bool {
    schemas
        .get(name)
        .is_some_and(|s| s.get("properties").is_some() || s.get("allOf").is_some())
}

/// The Rust expression of one property's type.
fn ty(schemas: &Map<String, Value>, property: &Value) -> String {
    if let Some(target) = ref_name(property) {
        return if is_enum(schemas, target) {
            format!("Ty::Enum({target:?})")
        } else if is_object(schemas, target) {
            format!("Ty::Complex({target:?})")
        } else {
            "Ty::Open".to_owned()
        };
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = property.get(key) {
            if let Some(first) = options
                .iter()
                .find(|o| o.get("type").and_then(Value::as_str) != Some("null"))
            {
                return ty(schemas, first);
            }
        }
    }
    let format = property.get("format").and_then(Value::as_str);
    match property.get("type").and_then(Value::as_str) {
        Some("string") => match format {
            Some("uuid") => "Ty::Guid",
            Some("date-time") => "Ty::DateTime",
            Some("date") => "Ty::Date",
            Some("time") => "Ty::TimeOfDay",
            Some("duration") => "Ty::Duration",
            Some("base64url") => "Ty::Binary",
            _ => "Ty::String",
        }
        .to_owned(),
        Some("boolean") => "Ty::Boolean".to_owned(),
        Some("integer") => "Ty::Int".to_owned(),
        Some("number") => "Ty::Number".to_owned(),
        Some("array") => match property.get("items") {
            Some(items) => format!("Ty::Collection(&{})", ty(schemas, items)),
            None => "Ty::Collection(&Ty::Open)".to_owned(),
        },
        _ => "Ty::Open".to_owned(),
    }
}

/// One property: its name and the Rust expression of its type.
type Property = (String, String);

fn generate(schemas: &Map<String, Value>) -> String {
    let mut objects: BTreeMap<&str, (Option<&str>, Vec<Property>)> = BTreeMap::new();
    let mut enums: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, schema) in schemas {
        if let Some(Value::Array(members)) = schema.get("enum") {
            let members = members
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            enums.insert(name, members);
            continue;
        }
        if !is_object(schemas, name) {
            continue;
        }
        let mut base = None;
        let mut props = Vec::new();
        let own = |part: &Value, props: &mut Vec<Property>| {
            if let Some(Value::Object(map)) = part.get("properties") {
                for (prop, value) in map {
                    props.push((prop.clone(), ty(schemas, value)));
                }
            }
        };
        own(schema, &mut props);
        if let Some(Value::Array(parts)) = schema.get("allOf") {
            for part in parts {
                match ref_name(part) {
                    Some(parent) => base = Some(parent),
                    None => own(part, &mut props),
                }
            }
        }
        props.sort();
        objects.insert(name, (base, props));
    }
    let mut out = String::new();
    out.push_str(
        "// Generated by build.rs from spec/graph/graph-subset.openapi.json; do not edit.\n",
    );
    out.push_str("/// Every object schema of the description, sorted by name.\n");
    out.push_str("pub(crate) static SCHEMAS: &[Schema] = &[\n");
    for (name, (base, props)) in &objects {
        let _ = write!(
            out,
            "    Schema {{ name: {name:?}, base: {base:?}, props: &["
        );
        for (prop, ty) in props {
            let _ = write!(out, "({prop:?}, {ty}), ");
        }
        out.push_str("] },\n");
    }
    out.push_str("];\n");
    out.push_str("/// Every enumeration of the description, sorted by name, with its members.\n");
    out.push_str("pub(crate) static ENUMS: &[(&str, &[&str])] = &[\n");
    for (name, members) in &enums {
        let _ = writeln!(out, "    ({name:?}, &{members:?}),");
    }
    out.push_str("];\n");
    out
}
