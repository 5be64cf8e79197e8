//! Microsoft's OpenAPI description (`spec/graph/graph-subset.openapi.json`) turned into JSON
//! Schema validators, with the normalisations spec/graph/endpoints.md §3 prescribes: the PowerShell flavour's
//! open-type marker `additionalProperties: {type: object}` means "extra properties allowed";
//! OpenAPI 3.0 `nullable: true` becomes a `null` member of `type` (and of `enum`); a 204 must have
//! no body.
//!
//! Because the description marks nothing required and allows extra properties, a schema check
//! alone would accept an answer that lost a property or misspelt one. So every entity answered is
//! also checked by name (`check_properties`): it must carry the properties Microsoft's documented
//! example shows (`expected.rs`, or exactly the `$select`ed ones), and nothing the type does not
//! have on that version — the description's properties plus the ones the simulator documents
//! beyond it with their source (`firebreak_sim::documented_properties`). Items of polymorphic
//! collections are checked against their own `@odata.type`.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Map, Value};

use crate::expected::{answer_of, required_of};

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
        // Operations the app uses that the description subset does not carry (spec/graph/endpoints.md:
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
                Success::Schema(ref name) => {
                    let mut problems = self.check_named(name, body);
                    problems.extend(self.check_properties(route, path, body));
                    problems
                }
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

impl Description {
    fn schema_of(&self, name: &str) -> Option<&Value> {
        self.schemas.get(name)
    }

    /// The properties of a type of the description, its base types' included.
    pub fn properties(&self, name: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut pending = vec![name.to_owned()];
        while let Some(current) = pending.pop() {
            let Some(schema) = self.schema_of(&current) else {
                continue;
            };
            let mut parts = vec![schema];
            if let Some(Value::Array(all)) = schema.get("allOf") {
                parts.extend(all.iter());
            }
            for part in parts {
                if let Some(parent) = ref_name(part) {
                    pending.push(parent);
                }
                if let Some(Value::Object(props)) = part.get("properties") {
                    out.extend(props.keys().cloned());
                }
            }
        }
        out
    }

    /// Whether `derived` is `base` or inherits from it in the description.
    pub fn is_a(&self, derived: &str, base: &str) -> bool {
        let mut current = Some(derived.to_owned());
        while let Some(name) = current {
            if name == base {
                return true;
            }
            current = self
                .schema_of(&name)
                .and_then(|s| s.get("allOf"))
                .and_then(Value::as_array)
                .and_then(|parts| parts.iter().find_map(ref_name));
        }
        false
    }

    /// Checks the entities of one answer by name: each carries the properties it must (the
    /// documented example's, or exactly the `$select`ed ones) and none its type lacks on this
    /// version. Polymorphic items are checked against their own `@odata.type`.
    pub fn check_properties(&self, route: &Route, path: &str, body: &Value) -> Vec<String> {
        let Some(answer) = answer_of(&route.method, &route.template) else {
            return Vec::new();
        };
        let beta = path.starts_with("/beta/");
        let select: Option<Vec<String>> = path.split_once('?').and_then(|(_, query)| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k.trim_start_matches('$').eq_ignore_ascii_case("select"))
                .map(|(_, v)| v.split(',').map(|p| p.trim().to_owned()).collect())
        });
        let items: Vec<&Value> = if answer.collection {
            body["value"]
                .as_array()
                .map(|v| v.iter().collect())
                .unwrap_or_default()
        } else {
            vec![body]
        };
        items
            .into_iter()
            .enumerate()
            .flat_map(|(i, item)| {
                self.check_item(answer.entity, item, select.as_deref(), beta)
                    .into_iter()
                    .map(move |p| {
                        if answer.collection {
                            format!("value[{i}]: {p}")
                        } else {
                            p
                        }
                    })
            })
            .collect()
    }

    /// Checks one entity of a collection of `entity` (see [`Description::check_properties`]).
    pub fn check_item(
        &self,
        entity: &str,
        item: &Value,
        select: Option<&[String]>,
        beta: bool,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        let Some(map) = item.as_object() else {
            return vec![format!(
                "an entity of {entity} must be a JSON object: {item}"
            )];
        };
        let documented = |t: &str| -> Vec<String> {
            firebreak_sim::documented_properties(t, beta)
                .into_iter()
                .map(|(p, _)| p.to_owned())
                .collect()
        };
        let own = map
            .get("@odata.type")
            .and_then(Value::as_str)
            .map(|t| t.trim_start_matches('#').to_owned());
        let item_type = match own {
            Some(t) if self.is_a(&t, entity) => t,
            // A type Microsoft documents beyond the description subset (directory roles).
            Some(t) if self.schema_of(&t).is_none() && !documented(&t).is_empty() => t,
            Some(t) => {
                problems.push(format!("@odata.type {t} is not a type of {entity}"));
                entity.to_owned()
            }
            None => entity.to_owned(),
        };
        if item_type != entity && self.schema_of(&item_type).is_some() {
            problems.extend(
                self.check_named(&item_type, item)
                    .into_iter()
                    .map(|p| format!("as {item_type}: {p}")),
            );
        }
        let mut known = self.properties(&item_type);
        if self.schema_of(&item_type).is_none() {
            known.extend(self.properties(entity));
        }
        known.extend(documented(&item_type));
        let version = if beta { "beta" } else { "v1.0" };
        for key in map.keys() {
            if key.contains('@') {
                continue;
            }
            if !known.contains(key) {
                problems.push(format!(
                    "'{key}' is not a property of {item_type} on {version} (misnamed, or one only another version has)"
                ));
            }
        }
        let (required, source): (Vec<String>, &str) = match select {
            Some(selected) => (
                selected
                    .iter()
                    .filter_map(|s| known.iter().find(|k| k.eq_ignore_ascii_case(s)).cloned())
                    .collect(),
                "selected with $select",
            ),
            None => match required_of(&item_type) {
                Some(r) => (r.props.iter().map(|p| (*p).to_owned()).collect(), r.source),
                None => {
                    problems.push(format!(
                        "no list of the properties a {item_type} must carry (add it to expected.rs from Microsoft's documented example)"
                    ));
                    (Vec::new(), "")
                }
            },
        };
        for name in required {
            if !map.contains_key(&name) {
                problems.push(format!("'{name}' is missing ({source})"));
            }
        }
        problems
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

/// A sign-in carrying every property Microsoft's example shows.
fn full_sign_in() -> Value {
    json!({"id": "66ea54eb-6301-4ee5-be62-ff5a759b0100", "createdDateTime": "2025-03-13T19:15:41Z",
           "userDisplayName": "Megan Bowen", "userPrincipalName": "megan@contoso.com", "userId": "u1",
           "appId": "a", "appDisplayName": "OfficeHome", "ipAddress": "203.0.113.7", "clientAppUsed": "Browser",
           "correlationId": "c", "conditionalAccessStatus": "notApplied", "isInteractive": true,
           "riskDetail": "none", "riskLevelAggregated": "none", "riskLevelDuringSignIn": "none", "riskState": "none",
           "riskEventTypes": [], "resourceDisplayName": "Office 365 Exchange Online", "resourceId": "r",
           "status": {"errorCode": 0, "failureReason": null, "additionalDetails": null},
           "deviceDetail": {"deviceId": "", "displayName": null, "operatingSystem": "Windows10", "browser": "Edge",
                            "isCompliant": false, "isManaged": false, "trustType": ""},
           "location": {"city": null, "state": null, "countryOrRegion": null,
                        "geoCoordinates": {"altitude": null, "latitude": null, "longitude": null}},
           "appliedConditionalAccessPolicies": []})
}

#[test]
fn a_misnamed_or_missing_property_is_caught() {
    let d = Description::get();
    let good = json!({"value": [full_sign_in()]});
    assert!(
        d.check_response("GET", "/v1.0/auditLogs/signIns", 200, Some(&good))
            .is_ok(),
        "{:?}",
        d.check_response("GET", "/v1.0/auditLogs/signIns", 200, Some(&good))
    );
    let mut misnamed = full_sign_in();
    let created = misnamed["createdDateTime"].take();
    misnamed.as_object_mut().unwrap().remove("createdDateTime");
    misnamed["createdDatetime"] = created;
    let problems = d
        .check_response(
            "GET",
            "/v1.0/auditLogs/signIns",
            200,
            Some(&json!({"value": [misnamed]})),
        )
        .unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("'createdDatetime' is not a property of microsoft.graph.signIn")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("'createdDateTime' is missing") && p.contains("signin-list.md")),
        "{problems:?}"
    );
    let mut lost = full_sign_in();
    lost.as_object_mut().unwrap().remove("ipAddress");
    assert!(d
        .check_response(
            "GET",
            "/v1.0/auditLogs/signIns",
            200,
            Some(&json!({"value": [lost]}))
        )
        .is_err());
}

#[test]
fn beta_only_properties_are_refused_on_v1_answers_and_allowed_on_beta() {
    let d = Description::get();
    let mut with_beta = full_sign_in();
    with_beta["signInEventTypes"] = json!(["interactiveUser"]);
    with_beta["autonomousSystemNumber"] = json!(64496);
    let body = json!({"value": [with_beta]});
    let v1 = d
        .check_response("GET", "/v1.0/auditLogs/signIns", 200, Some(&body))
        .unwrap_err();
    assert!(
        v1.iter().any(|p| p.contains("'signInEventTypes'"))
            && v1.iter().any(|p| p.contains("'autonomousSystemNumber'")),
        "{v1:?}"
    );
    assert!(d
        .check_response("GET", "/beta/auditLogs/signIns", 200, Some(&body))
        .is_ok());
}

#[test]
fn polymorphic_items_are_checked_against_their_own_type() {
    let d = Description::get();
    let phone = json!({"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "p",
                       "phoneNumber": "+44 7700 900123", "phoneType": "mobile", "smsSignInState": "notAllowedByPolicy"});
    let email = json!({"@odata.type": "#microsoft.graph.emailAuthenticationMethod", "id": "e",
                       "emailAddress": "megan@example.org"});
    let path = "/v1.0/users/u1/authentication/methods";
    assert!(d
        .check_response(
            "GET",
            path,
            200,
            Some(&json!({"value": [phone.clone(), email.clone()]}))
        )
        .is_ok());
    let mut no_state = phone.clone();
    no_state.as_object_mut().unwrap().remove("smsSignInState");
    let problems = d
        .check_response(
            "GET",
            path,
            200,
            Some(&json!({"value": [email.clone(), no_state]})),
        )
        .unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("value[1]: 'smsSignInState' is missing")),
        "{problems:?}"
    );
    // A phone number is a property of a phone method, not of an email method.
    let mut mixed = email.clone();
    mixed["phoneNumber"] = json!("+44 7700 900123");
    let problems = d
        .check_response("GET", path, 200, Some(&json!({"value": [mixed]})))
        .unwrap_err();
    assert!(
        problems.iter().any(|p| p.contains(
            "'phoneNumber' is not a property of microsoft.graph.emailAuthenticationMethod"
        )),
        "{problems:?}"
    );
    // A wrongly typed property of the derived type is caught by the derived schema.
    let mut typed = phone.clone();
    typed["phoneType"] = json!("carrier pigeon");
    assert!(d
        .check_response("GET", path, 200, Some(&json!({"value": [typed]})))
        .is_err());
    // Directory objects: a group lacking securityEnabled, a role with its own properties.
    let group = json!({"@odata.type": "#microsoft.graph.group", "id": "g", "displayName": "All staff", "mailEnabled": false});
    let role = json!({"@odata.type": "#microsoft.graph.directoryRole", "id": "r", "displayName": "Global Administrator",
                      "description": "Can manage everything", "roleTemplateId": "62e90394-69f5-4237-9190-012177145e10"});
    let problems = d
        .check_response(
            "GET",
            "/v1.0/users/u1/memberOf",
            200,
            Some(&json!({"value": [role, group]})),
        )
        .unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("value[1]: 'securityEnabled' is missing"),
        "{problems:?}"
    );
}

#[test]
fn a_select_requires_exactly_the_selected_properties() {
    let d = Description::get();
    let path = "/v1.0/users?$select=id,accountEnabled,signInSessionsValidFromDateTime";
    let ok = json!({"value": [{"id": "u", "accountEnabled": true, "signInSessionsValidFromDateTime": null}]});
    assert!(d.check_response("GET", path, 200, Some(&ok)).is_ok());
    let missing = json!({"value": [{"id": "u", "accountEnabled": true}]});
    let problems = d
        .check_response("GET", path, 200, Some(&missing))
        .unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p
                .contains("'signInSessionsValidFromDateTime' is missing (selected with $select)")),
        "{problems:?}"
    );
}
