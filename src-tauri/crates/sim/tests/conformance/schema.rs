//! Microsoft's OpenAPI description (`spec/graph/graph-subset.openapi.json`) turned into JSON
//! Schema validators, with the normalisations ENDPOINTS.md §3 prescribes: the PowerShell flavour's
//! open-type marker `additionalProperties: {type: object}` means "extra properties allowed";
//! OpenAPI 3.0 `nullable: true` becomes a `null` member of `type` (and of `enum`); polymorphic
//! collections validate against their base type; a 204 must have no body.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Map, Value};

/// What a successful answer of one operation must look like.
#[derive(Debug, Clone)]
pub enum Success {
    /// A JSON body validated against this component schema.
    Schema(String),
    /// No body expected (DELETE, actions answering 204).
    NoBody,
}

/// One operation of the description.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: String,
    pub template: String,
    segments: Vec<String>,
    pub success: Success,
}

/// The loaded description.
pub struct Description {
    schemas: Map<String, Value>,
    pub routes: Vec<Route>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

fn description_path() -> PathBuf {
    if let Ok(path) = std::env::var("FIREBREAK_GRAPH_OPENAPI") {
        return PathBuf::from(path);
    }
    // The repository keeps an unchanged copy (see spec/graph/README.md), so any clone can run this.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../spec/graph/graph-subset.openapi.json")
}

/// OpenAPI 3.0 → JSON Schema 2020-12, in place.
pub fn convert(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("additionalProperties") == Some(&json!({"type": "object"})) {
                map.insert("additionalProperties".to_owned(), Value::Bool(true));
            }
            if map.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(kind)) = map.get("type").cloned() {
                    map.insert("type".to_owned(), json!([kind, "null"]));
                }
                if let Some(Value::Array(members)) = map.get_mut("enum") {
                    if !members.contains(&Value::Null) {
                        members.push(Value::Null);
                    }
                }
                if !map.contains_key("type") && !map.contains_key("enum") {
                    let inner = Value::Object(std::mem::take(map));
                    map.insert("anyOf".to_owned(), json!([inner, {"type": "null"}]));
                }
            }
            for child in map.values_mut() {
                convert(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(convert),
        _ => {}
    }
}

fn ref_name(value: &Value) -> Option<String> {
    value
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .map(str::to_owned)
}

impl Description {
    /// The description, loaded once per test binary. Fails loudly if the file is missing: a
    /// conformance test that skips itself would prove nothing.
    pub fn get() -> &'static Description {
        static DESCRIPTION: OnceLock<Description> = OnceLock::new();
        DESCRIPTION.get_or_init(|| {
            let path = description_path();
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "cannot read Microsoft's description at {}: {e} (set FIREBREAK_GRAPH_OPENAPI)",
                    path.display()
                )
            });
            let mut spec: Value = serde_json::from_str(&text).expect("the description is JSON");
            Description::from_spec(&mut spec)
        })
    }

    fn from_spec(spec: &mut Value) -> Description {
        convert(spec);
        let mut schemas = spec["components"]["schemas"]
            .as_object()
            .cloned()
            .expect("components.schemas");
        let responses = spec["components"]["responses"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut routes = Vec::new();
        for (template, item) in spec["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                if !["get", "post", "patch", "delete", "put"].contains(&method.as_str()) {
                    continue;
                }
                let success = match op["responses"].as_object().and_then(|r| {
                    r.get("2XX")
                        .or_else(|| r.get("200"))
                        .or_else(|| r.get("201"))
                }) {
                    None => Success::NoBody,
                    Some(response) => {
                        let response = match ref_name(response) {
                            Some(name) => {
                                responses.get(&name).cloned().expect("response component")
                            }
                            None => response.clone(),
                        };
                        let schema = &response["content"]["application/json"]["schema"];
                        match ref_name(schema) {
                            Some(name) => Success::Schema(name),
                            None => {
                                let name = format!("inline-response-{}", routes.len());
                                schemas.insert(name.clone(), schema.clone());
                                Success::Schema(name)
                            }
                        }
                    }
                };
                routes.push(Route {
                    method: method.to_uppercase(),
                    template: template.clone(),
                    segments: template
                        .trim_start_matches('/')
                        .split('/')
                        .map(str::to_owned)
                        .collect(),
                    success,
                });
            }
        }
        // Operations the app uses that the description subset does not carry (ENDPOINTS.md:
        // TAP creation answers the TAP entity with 201; PATCH answers 204 like PATCH /users).
        routes.push(Route {
            method: "POST".into(),
            template: "/users/{user-id}/authentication/temporaryAccessPassMethods".into(),
            segments: "users/{user-id}/authentication/temporaryAccessPassMethods"
                .split('/')
                .map(str::to_owned)
                .collect(),
            success: Success::Schema(
                "microsoft.graph.temporaryAccessPassAuthenticationMethod".into(),
            ),
        });
        routes.push(Route {
            method: "PATCH".into(),
            template: "/servicePrincipals/{servicePrincipal-id}".into(),
            segments: "servicePrincipals/{servicePrincipal-id}"
                .split('/')
                .map(str::to_owned)
                .collect(),
            success: Success::NoBody,
        });
        Description {
            schemas,
            routes,
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// The route matching a concrete path (version prefix removed, bound actions qualified).
    pub fn route(&self, method: &str, path: &str) -> Option<&Route> {
        let path = path.split('?').next().unwrap_or(path);
        let path = path
            .strip_prefix("/v1.0")
            .or_else(|| path.strip_prefix("/beta"))
            .unwrap_or(path);
        let mut segments: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(str::to_owned)
            .collect();
        if let Some(last) = segments.last_mut() {
            if [
                "revokeSignInSessions",
                "confirmCompromised",
                "removePassword",
                "removeKey",
            ]
            .contains(&last.as_str())
            {
                *last = format!("microsoft.graph.{last}");
            }
        }
        self.routes
            .iter()
            .filter(|r| r.method == method && r.segments.len() == segments.len())
            .filter(|r| {
                r.segments
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| segment_matches(t, s))
            })
            .min_by_key(|r| r.segments.iter().filter(|s| s.contains('{')).count())
    }

    fn validator(&self, name: &str) -> Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = cache.get(name) {
            return v.clone();
        }
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("#/components/schemas/{}", name.replace('~', "~0").replace('/', "~1")),
            "components": {"schemas": Value::Object(self.schemas.clone())},
        });
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(false)
            .build(&root)
            .unwrap_or_else(|e| panic!("schema {name} does not compile: {e}"));
        let validator = Arc::new(validator);
        cache.insert(name.to_owned(), validator.clone());
        validator
    }

    /// Validation errors of `value` against component schema `name` (empty = valid).
    pub fn check_named(&self, name: &str, value: &Value) -> Vec<String> {
        let validator = self.validator(name);
        validator
            .iter_errors(value)
            .map(|e| format!("{}: {}", e.instance_path(), truncate(&e.to_string())))
            .take(10)
            .collect()
    }

    /// Checks one response; returns the matched route template, or what is wrong.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: Option<&Value>,
    ) -> Result<String, Vec<String>> {
        let route = self.route(method, path).ok_or_else(|| {
            vec![format!(
                "{method} {path} is not an operation of the description"
            )]
        })?;
        let problems = match (status, body) {
            (204, None) => Vec::new(),
            (204, Some(_)) => vec!["204 No Content must not carry a body".to_owned()],
            (200..=299, None) => match route.success {
                Success::NoBody => Vec::new(),
                Success::Schema(ref name) => vec![format!("expected a {name} body, got none")],
            },
            (200..=299, Some(body)) => match route.success {
                Success::Schema(ref name) => self.check_named(name, body),
                Success::NoBody => vec![format!(
                    "the description declares no body for {} {}",
                    route.method, route.template
                )],
            },
            (_, Some(body)) => self.check_named("microsoft.graph.ODataErrors.ODataError", body),
            (_, None) => vec![format!(
                "error status {status} without the Graph error body"
            )],
        };
        if problems.is_empty() {
            Ok(format!("{} {}", route.method, route.template))
        } else {
            Err(problems)
        }
    }
}

/// Whether a concrete path segment matches a template segment: a whole parameter (`{user-id}`),
/// a literal, or a literal around one parameter (the alternate key `servicePrincipals(appId='{appId}')`).
fn segment_matches(template: &str, segment: &str) -> bool {
    if template.starts_with('{') || template == segment {
        return true;
    }
    match (template.split_once('{'), template.rsplit_once('}')) {
        (Some((before, _)), Some((_, after))) => {
            let segment = segment.replace("%27", "'");
            segment.len() > before.len() + after.len()
                && segment.starts_with(before)
                && segment.ends_with(after)
        }
        _ => false,
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(240).collect()
}

#[test]
fn a_wrong_field_type_is_caught() {
    let d = Description::get();
    let user = json!({"id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd", "displayName": "Adele Vance", "accountEnabled": false,
                      "mail": null, "businessPhones": ["+1 425 555 0109"], "someFutureProperty": {"x": 1}});
    assert!(
        d.check_named("microsoft.graph.user", &user).is_empty(),
        "a correct user (open type, null mail) validates"
    );
    let mut wrong = user.clone();
    wrong["accountEnabled"] = json!("no");
    let errors = d.check_named("microsoft.graph.user", &wrong);
    assert!(
        errors.iter().any(|e| e.contains("accountEnabled")),
        "a string accountEnabled must be refused: {errors:?}"
    );
}

#[test]
fn nulls_enums_and_nested_types_are_enforced() {
    let d = Description::get();
    let sign_in = json!({"id": "x", "createdDateTime": "2024-06-11T08:40:12Z", "userId": "u", "status": {"errorCode": 0},
                         "riskLevelDuringSignIn": "none", "riskEventTypes_v2": []});
    assert!(d.check_named("microsoft.graph.signIn", &sign_in).is_empty());
    for (field, bad) in [
        ("createdDateTime", json!(null)),
        ("createdDateTime", json!("yesterday")),
        ("riskLevelDuringSignIn", json!("catastrophic")),
        ("status", json!({"errorCode": "50126"})),
        ("userId", json!(null)),
    ] {
        let mut drifted = sign_in.clone();
        drifted[field] = bad.clone();
        assert!(
            !d.check_named("microsoft.graph.signIn", &drifted).is_empty(),
            "{field} = {bad} must be refused"
        );
    }
}

#[test]
fn error_bodies_and_204s_are_checked() {
    let d = Description::get();
    let error = json!({"error": {"code": "Request_ResourceNotFound", "message": "gone",
                      "innerError": {"date": "2024-06-11T08:47:25", "request-id": "a", "client-request-id": "b"}}});
    assert!(d
        .check_response("GET", "/v1.0/users/x", 404, Some(&error))
        .is_ok());
    assert!(d
        .check_response(
            "GET",
            "/v1.0/users/x",
            404,
            Some(&json!({"error": {"message": "no code"}}))
        )
        .is_err());
    assert!(
        d.check_response("PATCH", "/v1.0/users/x", 204, Some(&json!({})))
            .is_err(),
        "204 with a body is drift"
    );
    assert!(
        d.check_response(
            "POST",
            "/v1.0/users/x/revokeSignInSessions",
            200,
            Some(&json!({"value": true}))
        )
        .is_ok(),
        "unqualified action matches"
    );
    assert!(d
        .check_response("GET", "/v1.0/nonsense", 200, Some(&json!({})))
        .is_err());
}
