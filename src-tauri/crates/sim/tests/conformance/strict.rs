//! Where Graph is stricter than a forgiving fake: `$select` and `$filter` naming a property the
//! entity does not have (on this version), literals of the wrong type, and PATCH bodies carrying
//! `@odata.type`. Each refusal has a look-alike that must still be answered.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{enc, Sim};

async fn filter(sim: &Sim, path: &str, expression: &str) -> (u16, String, String) {
    let reply = sim
        .get(&format!("{path}?$filter={}", enc(expression)))
        .await;
    (
        reply.status,
        reply.code().to_owned(),
        reply.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn a_select_naming_a_property_the_entity_lacks_is_refused_and_a_real_one_answered() {
    let sim = Sim::start("aitm").await;
    let refused = sim.get("/v1.0/users?$select=id,favouriteColour").await;
    assert_eq!((refused.status, refused.code()), (400, "BadRequest"));
    assert_eq!(
        refused.body["error"]["message"],
        "Parsing OData Select and Expand failed: Could not find a property named 'favouriteColour' on type 'microsoft.graph.user'."
    );
    let misspelt = sim
        .get("/v1.0/auditLogs/directoryAudits?$select=id,activityDatetime2")
        .await;
    assert_eq!(misspelt.status, 400, "{}", misspelt.body);

    // Look-alikes: Graph matches names without regard to case and answers a selected property the
    // record lacks as null, spelled as the description spells it.
    let cased = sim
        .get("/v1.0/users?$top=1&$select=ID,DisplayName,faxNumber")
        .await;
    assert_eq!(cased.status, 200, "{}", cased.body);
    let user = &cased.value()[0];
    assert!(user["displayName"].is_string(), "{user}");
    assert_eq!(user.get("faxNumber"), Some(&Value::Null), "{user}");
    // Directory objects are polymorphic: a group's or a role's property may be selected on memberOf.
    let megan = sim.user_id("megan.bowen").await;
    let member_of = sim
        .get(&format!(
            "/v1.0/users/{megan}/memberOf?$select=id,displayName"
        ))
        .await;
    assert_eq!(member_of.status, 200, "{}", member_of.body);
}

#[tokio::test]
async fn a_filter_naming_a_property_the_entity_lacks_is_refused_at_any_depth() {
    let sim = Sim::start("aitm").await;
    let (status, code, message) = filter(
        &sim,
        "/v1.0/auditLogs/directoryAudits",
        "initiatedBy/user/upn eq 'megan.bowen@contoso-training.onmicrosoft.com'",
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "BadRequest"));
    assert!(
        message.contains("'upn' on type 'microsoft.graph.userIdentity'"),
        "{message}"
    );
    let (status, _, message) = filter(
        &sim,
        "/v1.0/auditLogs/directoryAudits",
        "targetResources/any(t: t/objectId eq 'x')",
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        message.contains("'objectId' on type 'microsoft.graph.targetResource'"),
        "{message}"
    );
    // The look-alike: the same paths spelled right.
    let (status, _, message) = filter(
        &sim,
        "/v1.0/auditLogs/directoryAudits",
        "initiatedBy/user/userPrincipalName eq 'megan.bowen@contoso-training.onmicrosoft.com' or targetResources/any(t: t/id eq 'x')",
    )
    .await;
    assert_eq!(status, 200, "{message}");
}

#[tokio::test]
async fn v1_refuses_and_never_answers_beta_only_properties() {
    let sim = Sim::start("aitm").await;
    for (path, expected) in [
        (
            "/v1.0/auditLogs/signIns?$top=5&$select=id,autonomousSystemNumber",
            400,
        ),
        (
            "/v1.0/auditLogs/signIns?$top=5&$select=id,signInEventTypes",
            400,
        ),
        (
            "/beta/auditLogs/signIns?$top=5&$select=id,autonomousSystemNumber,signInEventTypes,sessionId",
            200,
        ),
        ("/v1.0/auditLogs/signIns?$top=5&$select=id,userAgent", 200),
    ] {
        let reply = sim.get(path).await;
        assert_eq!(reply.status, expected, "{path}: {}", reply.body);
        if expected == 400 {
            assert!(
                reply.body["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("on type 'microsoft.graph.signIn'"),
                "{}",
                reply.body
            );
        }
    }
    let beta = sim.get("/beta/auditLogs/signIns?$top=5").await;
    assert!(beta
        .value()
        .iter()
        .all(|s| s["signInEventTypes"].is_array()));
    let v1 = sim.get("/v1.0/auditLogs/signIns?$top=5").await;
    assert!(!v1.value().is_empty());
    assert!(
        v1.value()
            .iter()
            .all(|s| s.get("signInEventTypes").is_none() && s.get("sessionId").is_none()),
        "{}",
        v1.body
    );
}

#[tokio::test]
async fn literals_of_the_wrong_type_are_refused_and_the_right_ones_answered() {
    let sim = Sim::start("aitm").await;
    let megan = sim.user_id("megan.bowen").await;
    let sign_ins = "/v1.0/auditLogs/signIns";
    for (expression, operands) in [
        (
            "createdDateTime ge '2025-03-12T19:00:00Z'".to_owned(),
            "'Edm.DateTimeOffset' and 'Edm.String'",
        ),
        (format!("userId eq {megan}"), "'Edm.String' and 'Edm.Guid'"),
        (
            "userPrincipalName eq 5".to_owned(),
            "'Edm.String' and 'Edm.Int32'",
        ),
        (
            "isInteractive eq 'true'".to_owned(),
            "'Edm.Boolean' and 'Edm.String'",
        ),
        (
            "status/errorCode eq '0'".to_owned(),
            "'Edm.Int32' and 'Edm.String'",
        ),
        (
            "ipAddress eq 2025-03-12T19:00:00Z".to_owned(),
            "'Edm.String' and 'Edm.DateTimeOffset'",
        ),
    ] {
        let (status, code, message) = filter(&sim, sign_ins, &expression).await;
        assert_eq!((status, code.as_str()), (400, "BadRequest"), "{expression}");
        assert!(
            message.contains("A binary operator with incompatible types was detected")
                && message.contains(operands),
            "{expression}: {message}"
        );
    }
    let (status, _, message) = filter(&sim, sign_ins, "riskState eq 'somewhatRisky'").await;
    assert_eq!(status, 400, "not a member of riskState");
    assert!(message.contains("'somewhatRisky'"), "{message}");
    // Look-alikes of the right type are answered.
    for expression in [
        format!("userId eq '{megan}' and createdDateTime ge 2025-03-12T19:00:00Z"),
        "status/errorCode eq 0 and isInteractive eq true".to_owned(),
        "riskState eq 'atRisk' or riskState eq 'AtRisk'".to_owned(),
        "userPrincipalName eq null".to_owned(),
    ] {
        let (status, _, message) = filter(&sim, sign_ins, &expression).await;
        assert_eq!(status, 200, "{expression}: {message}");
    }
}

#[tokio::test]
async fn a_patch_carrying_odata_type_is_applied_and_the_annotation_never_stored() {
    let sim = Sim::start("consent-phishing").await;
    let sp = sim.get("/v1.0/oauth2PermissionGrants").await.value()[0]["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    let patched = sim
        .graph(
            Method::PATCH,
            &format!("/v1.0/servicePrincipals/{sp}"),
            Some(json!({"@odata.type": "#microsoft.graph.servicePrincipal", "accountEnabled": false})),
        )
        .await;
    assert_eq!(patched.status, 204, "{}", patched.body);
    let after = sim.get(&format!("/v1.0/servicePrincipals/{sp}")).await;
    assert_eq!(after.body["accountEnabled"], json!(false));
    assert!(
        after.body.get("@odata.type").is_none(),
        "the annotation is not stored: {}",
        after.body
    );

    let user = sim.user_id("miriam.graham").await;
    let disabled = sim
        .graph(
            Method::PATCH,
            &format!("/v1.0/users/{user}"),
            Some(json!({"@odata.type": "microsoft.graph.user", "accountEnabled": false})),
        )
        .await;
    assert_eq!(disabled.status, 204, "{}", disabled.body);
    let actions = sim.control(Method::GET, "/actions", None).await;
    let logged = actions.to_string();
    assert!(
        logged.contains("accountEnabled") && !logged.contains("@odata.type"),
        "the change applied is the property alone: {logged}"
    );

    for body in [
        json!({"@odata.type": "#microsoft.graph.group", "accountEnabled": true}),
        json!({"favouriteColour": "blue"}),
        json!({"@odata.type": "#microsoft.graph.user"}),
    ] {
        let refused = sim
            .graph(
                Method::PATCH,
                &format!("/v1.0/users/{user}"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(refused.status, 400, "{body}: {}", refused.body);
    }
}
