//! Paging, `$filter`, `$select`, `$top` limits, advanced directory queries and permissions.

use reqwest::Method;
use serde_json::json;

use crate::harness::{claims, enc, Sim};

#[tokio::test]
async fn users_page_through_opaque_next_links_without_gaps_or_repeats() {
    let sim = Sim::start("large-tenant").await;
    let (users, pages) = sim
        .all_pages("/v1.0/users?$select=id,displayName&$top=7", &[])
        .await;
    assert_eq!(users.len(), 201, "200 generated users and the admin");
    assert_eq!(pages, 29, "201 users at 7 per page");
    let unique: std::collections::BTreeSet<_> = users
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(unique.len(), users.len(), "no user repeats across pages");
    let first = sim.get("/v1.0/users?$top=7").await;
    let next = first.body["@odata.nextLink"].as_str().unwrap();
    assert!(next.contains("skiptoken="), "{next}");
    let forged = sim.get("/v1.0/users?$top=7&$skiptoken=7").await;
    assert_eq!(
        (forged.status, forged.code()),
        (400, "BadRequest"),
        "a hand-made skiptoken is refused"
    );
}

#[tokio::test]
async fn top_limits_and_default_properties_follow_each_api() {
    let sim = Sim::start("aitm").await;
    let too_many = sim.get("/v1.0/users?$top=1000").await;
    assert_eq!(
        (too_many.status, too_many.code()),
        (400, "Request_UnsupportedQuery")
    );
    let sign_ins = sim.get("/v1.0/auditLogs/signIns?$top=1001").await;
    assert_eq!(sign_ins.status, 400, "sign-ins accept at most 1000");
    let plain = sim.get("/v1.0/users?$top=1").await;
    assert!(
        plain.value()[0].get("accountEnabled").is_none(),
        "accountEnabled only with $select: {}",
        plain.body
    );
    let selected = sim
        .get("/v1.0/users?$top=1&$select=accountEnabled,signInSessionsValidFromDateTime")
        .await;
    let user = &selected.value()[0];
    assert!(
        user.get("accountEnabled").is_some() && user.get("displayName").is_none(),
        "$select projects: {user}"
    );
    let messages = sim
        .get(&format!(
            "/v1.0/users/{}/mailFolders/sentitems/messages",
            sim.upn("megan.bowen")
        ))
        .await;
    assert_eq!(messages.value().len(), 10, "Outlook's default page is 10");
    assert!(messages.body["@odata.nextLink"].is_null());
}

#[tokio::test]
async fn filters_select_what_they_say_and_escape_quotes() {
    let sim = Sim::start("aitm").await;
    let megan = sim.user_id("megan.bowen").await;
    let since = "2025-03-12T19:00:00Z";
    let reply = sim
        .get(&format!(
            "/v1.0/auditLogs/signIns?$filter={}",
            enc(&format!(
                "userId eq '{megan}' and createdDateTime ge {since}"
            ))
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let items = reply.value();
    assert!(!items.is_empty());
    assert!(items
        .iter()
        .all(|s| s["userId"] == json!(megan) && s["createdDateTime"].as_str().unwrap() >= since));
    assert!(
        items.iter().all(|s| s["isInteractive"] == json!(true)),
        "v1.0 lists interactive sign-ins only"
    );
    let times: Vec<&str> = items
        .iter()
        .map(|s| s["createdDateTime"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");

    let non_interactive = sim
        .get(&format!(
            "/beta/auditLogs/signIns?$filter={}",
            enc(&format!(
                "userId eq '{megan}' and signInEventTypes/any(t: t eq 'nonInteractiveUser')"
            ))
        ))
        .await;
    assert!(
        non_interactive
            .value()
            .iter()
            .all(|s| s["isInteractive"] == json!(false))
            && !non_interactive.value().is_empty()
    );
    let v1_lambda = sim
        .get(&format!(
            "/v1.0/auditLogs/signIns?$filter={}",
            enc("signInEventTypes/any(t: t eq 'nonInteractiveUser')")
        ))
        .await;
    assert_eq!(v1_lambda.status, 400, "v1.0 has no signInEventTypes");

    let audits = sim.get(&format!("/v1.0/auditLogs/directoryAudits?$filter={}", enc(&format!("targetResources/any(t:t/id eq '{megan}') or activityDisplayName eq 'Consent to application'")))).await;
    assert!(audits
        .value()
        .iter()
        .any(|a| a["activityDisplayName"] == "Consent to application"));

    let quoted = sim
        .get(&format!(
            "/v1.0/users?$filter={}",
            enc("displayName eq 'Siobhán O''Brien'")
        ))
        .await;
    assert_eq!(
        quoted.value().len(),
        1,
        "doubled quote matches one quote: {}",
        quoted.body
    );
    let injected = sim
        .get(&format!(
            "/v1.0/users?$filter={}",
            enc("displayName eq 'x' or 'a' eq 'a'")
        ))
        .await;
    assert_eq!(
        injected.status, 400,
        "an unescaped quote does not widen the query"
    );

    let unsupported = sim
        .get(&format!(
            "/v1.0/auditLogs/directoryAudits?$filter={}",
            enc("contains(activityDisplayName,'Consent')")
        ))
        .await;
    assert_eq!(
        (unsupported.status, unsupported.code()),
        (400, "BadRequest"),
        "unsupported functions are refused, not ignored"
    );
    let unknown = sim
        .get(&format!(
            "/v1.0/users?$filter={}",
            enc("favouriteColour eq 'blue'")
        ))
        .await;
    assert_eq!((unknown.status, unknown.code()), (400, "BadRequest"));
    assert_eq!(
        unknown.body["error"]["message"],
        "Invalid filter clause: Could not find a property named 'favouriteColour' on type 'microsoft.graph.user'."
    );
    let unfilterable = sim
        .get(&format!(
            "/v1.0/users?$filter={}",
            enc("officeLocation eq 'Leeds'")
        ))
        .await;
    assert_eq!(
        (unfilterable.status, unfilterable.code()),
        (400, "Request_UnsupportedQuery"),
        "a property the user has but the directory does not filter on: {}",
        unfilterable.body
    );
}

#[tokio::test]
async fn advanced_directory_queries_need_consistency_level_and_count() {
    let sim = Sim::start("aitm").await;
    let filter = enc("accountEnabled ne false");
    let without = sim.get(&format!("/v1.0/users?$filter={filter}")).await;
    assert_eq!(
        without.status, 400,
        "ne needs ConsistencyLevel: eventual and $count=true"
    );
    let count_only = sim.get("/v1.0/users?$count=true").await;
    assert_eq!(count_only.status, 400);
    let with = sim
        .graph_as(
            &sim.token(),
            Method::GET,
            &format!("/v1.0/users?$filter={filter}&$count=true"),
            None,
            &[("ConsistencyLevel", "eventual")],
        )
        .await;
    assert_eq!(with.status, 200, "{}", with.body);
    assert_eq!(
        with.body["@odata.count"].as_u64(),
        Some(with.value().len() as u64)
    );
    let ends = sim
        .graph_as(
            &sim.token(),
            Method::GET,
            &format!(
                "/v1.0/users?$filter={}&$count=true",
                enc("endswith(mail,'contoso-partners.example')")
            ),
            None,
            &[("ConsistencyLevel", "eventual")],
        )
        .await;
    assert_eq!(ends.value().len(), 1, "the homoglyph guest: {}", ends.body);
    let member_of = sim
        .graph_as(
            &sim.token(),
            Method::GET,
            &format!(
                "/v1.0/users/{}/memberOf?$count=true",
                sim.upn("megan.bowen")
            ),
            None,
            &[("ConsistencyLevel", "eventual")],
        )
        .await;
    assert_eq!(member_of.body["@odata.count"], json!(2));
}

#[tokio::test]
async fn missing_permissions_are_refused_with_403_and_named_in_the_token() {
    let sim = Sim::start("readiness-gaps").await;
    let roles = claims(&sim.token())["roles"].as_array().cloned().unwrap();
    for missing in [
        "UserAuthenticationMethod.ReadWrite.All",
        "AuditLogsQuery.Read.All",
    ] {
        assert!(
            !roles.iter().any(|r| r == missing),
            "{missing} is not granted in readiness-gaps"
        );
    }
    let megan = sim.upn("megan.bowen");
    let methods = sim
        .get(&format!("/v1.0/users/{megan}/authentication/methods"))
        .await;
    assert_eq!(
        (methods.status, methods.code()),
        (403, "Authorization_RequestDenied")
    );
    assert_eq!(
        methods.body["error"]["message"],
        "Insufficient privileges to complete the operation."
    );
    let query = sim
        .graph(
            Method::POST,
            "/beta/security/auditLog/queries",
            Some(json!({"displayName": "x"})),
        )
        .await;
    assert_eq!(
        (query.status, query.code()),
        (403, "Authorization_RequestDenied")
    );
    let sign_ins = sim.get("/v1.0/auditLogs/signIns").await;
    assert_eq!(
        (sign_ins.status, sign_ins.code()),
        (403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant"),
        "no Entra ID P1"
    );
    let users = sim.get("/v1.0/users?$top=1").await;
    assert_eq!(users.status, 200, "what is granted still works");
    let v1_query = Sim::start("aitm")
        .await
        .graph(
            Method::POST,
            "/v1.0/security/auditLog/queries",
            Some(json!({})),
        )
        .await;
    assert_eq!(
        v1_query.status, 400,
        "audit queries are beta-only in the described snapshot"
    );
}

#[tokio::test]
async fn bound_actions_answer_with_and_without_the_namespace_and_unknown_paths_are_400() {
    let sim = Sim::start("aitm").await;
    let megan = sim.upn("megan.bowen");
    for path in [
        format!("/v1.0/users/{megan}/revokeSignInSessions"),
        format!("/v1.0/users/{megan}/microsoft.graph.revokeSignInSessions"),
    ] {
        let reply = sim.graph(Method::POST, &path, None).await;
        assert_eq!(reply.body["value"], json!(true));
    }
    let missing = sim
        .get("/v1.0/users/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(
        (missing.status, missing.code()),
        (404, "Request_ResourceNotFound")
    );
    let bad_json = sim
        .http
        .patch(format!("{}/v1.0/users/{megan}", sim.base))
        .bearer_auth(sim.token())
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    let no_token = sim
        .http
        .get(format!("{}/v1.0/users", sim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
}
