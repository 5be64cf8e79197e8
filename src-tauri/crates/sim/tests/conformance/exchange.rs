//! The Exchange admin API cmdlets the procedures use, their OData envelope and Exchange's errors.

use serde_json::json;

use crate::harness::{Sim, EXCHANGE};

#[tokio::test]
async fn inbox_rules_hidden_ones_only_with_include_hidden_and_removal_by_identity() {
    let sim = Sim::start("aitm").await;
    let token = sim.secret_token(EXCHANGE).await;
    let megan = sim.upn("megan.bowen");
    let visible = sim
        .exo(&token, "Get-InboxRule", json!({"Mailbox": megan}))
        .await;
    assert_eq!(visible.value().len(), 2, "{}", visible.body);
    let all = sim
        .exo(
            &token,
            "Get-InboxRule",
            json!({"Mailbox": megan, "IncludeHidden": true}),
        )
        .await;
    assert_eq!(
        all.value().len(),
        7,
        "her three and the four Exchange keeps in every mailbox"
    );
    let hidden = all
        .value()
        .into_iter()
        .find(|r| r["Name"].as_str().unwrap().contains('\u{202e}'))
        .expect("the hidden rule");
    assert_eq!(hidden["DeleteMessage"], true);
    assert!(hidden["Identity"].as_str().unwrap().contains('\\'));
    let graph_rules = sim
        .get(&format!(
            "/v1.0/users/{megan}/mailFolders/inbox/messageRules"
        ))
        .await;
    assert_eq!(
        graph_rules.value().len(),
        2,
        "Graph never shows hidden rules"
    );

    let both = sim
        .exo(
            &token,
            "Remove-InboxRule",
            json!({"Mailbox": megan, "Identity": hidden["Identity"], "Confirm": false}),
        )
        .await;
    assert_eq!(
        both.status, 400,
        "a full rule identity already names the mailbox: Exchange refuses Mailbox beside it: {}",
        both.body
    );
    assert!(both
        .body
        .to_string()
        .contains("can't use both the Identity and Mailbox"));
    let removed = sim
        .exo(
            &token,
            "Remove-InboxRule",
            json!({"Identity": hidden["Identity"], "Confirm": false}),
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert!(removed.value().is_empty());
    let after = sim
        .exo(
            &token,
            "Get-InboxRule",
            json!({"Mailbox": megan, "IncludeHidden": true}),
        )
        .await;
    assert_eq!(after.value().len(), 6);
    let bare = hidden["Identity"]
        .as_str()
        .unwrap()
        .rsplit('\\')
        .next()
        .unwrap()
        .to_owned();
    let again = sim
        .exo(
            &token,
            "Remove-InboxRule",
            json!({"Mailbox": megan, "Identity": bare, "Confirm": false}),
        )
        .await;
    assert_eq!(
        again.status, 404,
        "Mailbox with the bare rule identity is the other documented form"
    );
    assert!(again.body["error"]["details"][0]["message"]
        .as_str()
        .unwrap()
        .contains("ManagementObjectNotFoundException"));
    let actions = sim.control(reqwest::Method::GET, "/actions", None).await;
    assert!(actions["actions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["cmdlet"] == "Remove-InboxRule" && a["status"] == 200));
}

#[tokio::test]
async fn forwarding_delegates_and_send_as_are_read_and_removed() {
    let sim = Sim::start("shared-mailbox-delegate").await;
    let token = sim.secret_token(EXCHANGE).await;
    let finance = sim.upn("finance");
    let lidia = sim.upn("lidia.holloway");
    let mailbox = &sim
        .exo(&token, "Get-Mailbox", json!({"Identity": finance}))
        .await
        .value()[0];
    assert_eq!(
        mailbox["ForwardingSmtpAddress"],
        "smtp:finance-archive@contoso-finance-backup.example"
    );
    assert_eq!(mailbox["RecipientTypeDetails"], "SharedMailbox");
    assert_eq!(mailbox["ExchangeGuid@odata.type"], "#Guid");
    let cleared = sim.exo(&token, "Set-Mailbox", json!({"Identity": finance, "ForwardingSmtpAddress": null, "ForwardingAddress": null, "DeliverToMailboxAndForward": false})).await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    let mailbox = &sim
        .exo(&token, "Get-Mailbox", json!({"Identity": finance}))
        .await
        .value()[0];
    assert!(mailbox["ForwardingSmtpAddress"].is_null());

    let permissions = sim
        .exo(
            &token,
            "Get-MailboxPermission",
            json!({"Identity": finance}),
        )
        .await
        .value();
    assert!(permissions
        .iter()
        .any(|p| p["User"] == lidia && p["AccessRights"] == json!(["FullAccess"])));
    sim.exo(&token, "Remove-MailboxPermission", json!({"Identity": finance, "User": lidia, "AccessRights": ["FullAccess"], "InheritanceType": "All", "Confirm": false})).await;
    let permissions = sim
        .exo(
            &token,
            "Get-MailboxPermission",
            json!({"Identity": finance}),
        )
        .await
        .value();
    assert!(!permissions.iter().any(|p| p["User"] == lidia));
    assert!(permissions
        .iter()
        .any(|p| p["User"] == "NT AUTHORITY\\SELF"));

    let send_as = sim
        .exo(
            &token,
            "Get-RecipientPermission",
            json!({"Identity": finance, "AccessRights": "SendAs"}),
        )
        .await
        .value();
    assert!(send_as.iter().any(|p| p["Trustee"] == lidia));
    sim.exo(&token, "Remove-RecipientPermission", json!({"Identity": finance, "Trustee": lidia, "AccessRights": ["SendAs"], "Confirm": false})).await;
    let absent = sim.exo(&token, "Remove-RecipientPermission", json!({"Identity": finance, "Trustee": lidia, "AccessRights": ["SendAs"], "Confirm": false})).await;
    assert!(
        !absent.body["@adminapi.warnings"]
            .as_array()
            .unwrap()
            .is_empty(),
        "removing what is not there warns"
    );

    let behalf = sim.exo(&token, "Set-Mailbox", json!({"Identity": finance, "GrantSendOnBehalfTo": {"@odata.type": "#Exchange.GenericHashTable", "remove": [sim.upn("grady.archie")]}})).await;
    assert_eq!(behalf.status, 200, "{}", behalf.body);
    let mailbox = &sim
        .exo(&token, "Get-Mailbox", json!({"Identity": finance}))
        .await
        .value()[0];
    assert_eq!(mailbox["GrantSendOnBehalfTo"], json!([]));

    let score = sim.control(reqwest::Method::GET, "/score", None).await;
    let remaining: Vec<&str> = score["attackerArtefacts"]["remaining"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        remaining,
        ["inboxRule"],
        "only the hidden rule is left: {score}"
    );
    let legit: Vec<&str> = score["legitimateArtefacts"]["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        legit,
        ["sendOnBehalf"],
        "removing Grady's SendOnBehalf is scored as collateral damage"
    );
}

#[tokio::test]
async fn exchange_errors_and_paging_follow_the_admin_api() {
    let sim = Sim::start("large-tenant").await;
    let token = sim.secret_token(EXCHANGE).await;
    let unknown = sim
        .exo(
            &token,
            "Get-Mailbox",
            json!({"Identity": "nobody@example.net"}),
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.headers.get("x-exceptiontype").unwrap(),
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
    );
    let bad_parameter = sim
        .exo(&token, "Get-Mailbox", json!({"Identiti": "x"}))
        .await;
    assert_eq!(bad_parameter.status, 400);
    let graph_token_at_exchange = sim
        .exo_raw(&sim.token(), "Get-Mailbox", json!({}), &[])
        .await;
    assert_eq!(
        graph_token_at_exchange.status, 401,
        "a Graph token is the wrong audience for Exchange"
    );
    let unknown_cmdlet = sim
        .exo(&token, "Remove-Mailbox", json!({"Identity": "x"}))
        .await;
    assert_eq!(unknown_cmdlet.status, 400);

    let mut seen = 0;
    let mut url = format!("{}/adminapi/beta/{}/InvokeCommand", sim.base, sim.tenant);
    let body = json!({"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {}}});
    loop {
        let reply = sim
            .http
            .post(&url)
            .bearer_auth(&token)
            .header("Prefer", "odata.maxpagesize=50")
            .json(&body)
            .send()
            .await
            .unwrap();
        let reply = crate::harness::read(reply).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        seen += reply.value().len();
        match reply.body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, 200, "every generated mailbox, 50 per page");
}

/// A scenario whose app holds `entra_roles` (and Exchange.ManageAsApp).
async fn app_with_roles(entra_roles: serde_json::Value) -> Sim {
    let mut scenario: serde_json::Value =
        serde_json::from_str(include_str!("../../scenarios/aitm.json")).unwrap();
    scenario["app"]["entraRoles"] = entra_roles;
    Sim::start_with(
        firebreak_sim::Scenario::from_json(&scenario.to_string()).unwrap(),
        Default::default(),
    )
    .await
}

#[tokio::test]
async fn exchange_needs_manage_as_app_and_an_entra_role() {
    // No role at all: 403 with an empty body, whatever the cmdlet.
    let sim = app_with_roles(json!([])).await;
    let token = sim.secret_token(EXCHANGE).await;
    let refused = sim.exo_raw(&token, "Get-Mailbox", json!({}), &[]).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.is_null(), "empty body: {}", refused.body);

    // Global Reader reads mailboxes and permissions, but not inbox rules, and changes nothing.
    let sim = app_with_roles(json!(["Global Reader"])).await;
    let token = sim.secret_token(EXCHANGE).await;
    let megan = sim.upn("megan.bowen");
    assert_eq!(sim.exo(&token, "Get-Mailbox", json!({})).await.status, 200);
    assert_eq!(
        sim.exo(&token, "Get-MailboxPermission", json!({"Identity": megan}))
            .await
            .status,
        200
    );
    let rules = sim
        .exo(&token, "Get-InboxRule", json!({"Mailbox": megan}))
        .await;
    assert_eq!(rules.status, 400, "{}", rules.body);
    assert!(
        rules
            .body
            .to_string()
            .contains("out of the current user's read scope"),
        "{}",
        rules.body
    );
    let change = sim
        .exo_raw(
            &token,
            "Set-Mailbox",
            json!({"Identity": megan, "ForwardingSmtpAddress": null}),
            &[],
        )
        .await;
    assert_eq!(change.status, 401, "but not change: {}", change.body);
    assert!(change
        .body
        .to_string()
        .contains("User is not allowed to call Set-Mailbox"));

    // Exchange Recipient Administrator is enough for everything the mailbox step does.
    let sim = app_with_roles(json!(["Exchange Recipient Administrator"])).await;
    let token = sim.secret_token(EXCHANGE).await;
    let megan = sim.upn("megan.bowen");
    let rules = sim
        .exo(
            &token,
            "Get-InboxRule",
            json!({"Mailbox": megan, "IncludeHidden": true}),
        )
        .await;
    assert_eq!(rules.status, 200, "{}", rules.body);
    assert_eq!(
        sim.exo(
            &token,
            "Set-Mailbox",
            json!({"Identity": megan, "ForwardingSmtpAddress": null})
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn inbox_rule_cmdlets_must_be_routed_to_the_mailbox_they_act_on() {
    let sim = Sim::start("aitm").await;
    let token = sim.secret_token(EXCHANGE).await;
    let system = format!(
        "APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{}",
        sim.tenant
    );
    let listed = sim
        .exo(&token, "Get-Mailbox", json!({"ResultSize": "Unlimited"}))
        .await;
    let upns: Vec<String> = listed.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["UserPrincipalName"].as_str().map(str::to_owned))
        .collect();
    let mut elsewhere = 0;
    for upn in &upns {
        let anchored = sim
            .exo(&token, "Get-InboxRule", json!({"Mailbox": upn}))
            .await;
        assert_eq!(anchored.status, 200, "{upn}: {}", anchored.body);
        let fixed = sim
            .exo_raw(
                &token,
                "Get-InboxRule",
                json!({"Mailbox": upn}),
                &[("X-AnchorMailbox", system.as_str())],
            )
            .await;
        if fixed.status != 200 {
            elsewhere += 1;
            assert_eq!(fixed.status, 500);
            assert!(
                fixed.body.to_string().contains("Cmdlet needs proxy"),
                "{}",
                fixed.body
            );
        }
    }
    assert!(
        elsewhere > 0 && elsewhere < upns.len(),
        "the organisation's mailboxes are spread over servers ({elsewhere} of {} elsewhere)",
        upns.len()
    );
}

/// The shared-mailbox scenario with Lidia's FullAccess on Finance granted with `inheritance`.
fn finance_with_inheritance(inheritance: &str) -> firebreak_sim::Scenario {
    let mut scenario: serde_json::Value =
        serde_json::from_str(include_str!("../../scenarios/shared-mailbox-delegate.json")).unwrap();
    let finance = scenario["users"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|u| u["user"]["userPrincipalName"] == "finance@contoso-training.onmicrosoft.com")
        .unwrap();
    for permission in finance["mailbox"]["permissions"].as_array_mut().unwrap() {
        if permission["user"] == "lidia.holloway@contoso-training.onmicrosoft.com" {
            permission["inheritanceType"] = json!(inheritance);
        }
    }
    firebreak_sim::Scenario::from_json(&scenario.to_string()).unwrap()
}

#[tokio::test]
async fn the_cause_of_an_exchange_error_is_in_its_details_not_its_message() {
    let sim = Sim::start("aitm").await;
    let token = sim.secret_token(EXCHANGE).await;
    let unknown = sim
        .exo(
            &token,
            "Get-Mailbox",
            json!({"Identity": "nobody@example.net"}),
        )
        .await;
    let error = &unknown.body["error"];
    assert_eq!(
        error["message"], "Error executing cmdlet",
        "a cmdlet's failure has a generic message: {}",
        unknown.body
    );
    let detail = error["details"][0]["message"].as_str().unwrap();
    let parts: Vec<&str> = detail.splitn(3, '|').collect();
    assert_eq!(
        parts[1],
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
    );
    assert!(
        parts[2].contains("'nobody@example.net' couldn't be found"),
        "{detail}"
    );
    assert!(error["innererror"]["internalexception"].is_null());

    let unbound = sim
        .exo(&token, "Get-Mailbox", json!({"Identiti": "x"}))
        .await;
    let error = &unbound.body["error"];
    assert_eq!(error["message"], "Invalid Operation", "{}", unbound.body);
    assert!(
        error["details"].is_null(),
        "refused before a cmdlet ran: no details"
    );
    assert!(error["innererror"]["internalexception"]["message"]
        .as_str()
        .unwrap()
        .contains("'Identiti'"));

    let wrong_audience = sim
        .exo_raw(&sim.token(), "Get-Mailbox", json!({}), &[])
        .await;
    let error = &wrong_audience.body["error"];
    assert!(
        error["message"].as_str().unwrap().len() > 30 && error["details"].is_null(),
        "authentication failures carry their cause in the message alone: {}",
        wrong_audience.body
    );
}

#[tokio::test]
async fn nothing_to_change_is_a_warning_inside_a_success() {
    let sim = Sim::start("shared-mailbox-delegate").await;
    let token = sim.secret_token(EXCHANGE).await;
    let finance = sim.upn("finance");
    let warnings = |reply: &crate::harness::Reply| -> Vec<String> {
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["@adminapi.warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap().to_owned())
            .collect()
    };
    let clear = json!({"Identity": finance, "ForwardingSmtpAddress": null, "ForwardingAddress": null, "DeliverToMailboxAndForward": false});
    let first = sim.exo(&token, "Set-Mailbox", clear.clone()).await;
    assert!(warnings(&first).is_empty(), "a change: no warning");
    let again = sim.exo(&token, "Set-Mailbox", clear).await;
    assert_eq!(
        warnings(&again),
        ["The command completed successfully but no settings of 'finance' have been modified."]
    );

    let nobody = "nobody@contoso-training.onmicrosoft.com";
    let full = sim.exo(&token, "Remove-MailboxPermission", json!({"Identity": finance, "User": nobody, "AccessRights": ["FullAccess"], "InheritanceType": "All", "Confirm": false})).await;
    let text = warnings(&full).join(" ");
    assert!(
        text.starts_with("Can't remove the access control entry on the object \"CN=finance,")
            && text.ends_with(&format!(
                "for account \"{nobody}\" because the ACE doesn't exist on the object."
            )),
        "{text}"
    );
    let send_as = sim.exo(&token, "Remove-RecipientPermission", json!({"Identity": finance, "Trustee": nobody, "AccessRights": ["SendAs"], "Confirm": false})).await;
    assert!(
        warnings(&send_as)
            .join(" ")
            .ends_with("because the ACE isn't present."),
        "{}",
        send_as.body
    );
}

#[tokio::test]
async fn a_mailbox_permission_is_removed_only_with_its_own_inheritance() {
    let sim = Sim::start_with(
        finance_with_inheritance("SelfAndChildren"),
        Default::default(),
    )
    .await;
    let token = sim.secret_token(EXCHANGE).await;
    let finance = sim.upn("finance");
    let lidia = sim.upn("lidia.holloway");
    let lidias = |rows: Vec<serde_json::Value>| -> Vec<serde_json::Value> {
        rows.into_iter().filter(|p| p["User"] == lidia).collect()
    };
    let listed = lidias(
        sim.exo(
            &token,
            "Get-MailboxPermission",
            json!({"Identity": finance}),
        )
        .await
        .value(),
    );
    assert_eq!(listed[0]["InheritanceType"], "SelfAndChildren");

    let wrong = sim.exo(&token, "Remove-MailboxPermission", json!({"Identity": finance, "User": lidia, "AccessRights": ["FullAccess"], "InheritanceType": "All", "Confirm": false})).await;
    assert_eq!(wrong.status, 200);
    assert!(
        wrong.body["@adminapi.warnings"][0]
            .as_str()
            .unwrap()
            .ends_with("because the ACE doesn't exist on the object."),
        "another inheritance is another entry: {}",
        wrong.body
    );
    let still = lidias(
        sim.exo(
            &token,
            "Get-MailboxPermission",
            json!({"Identity": finance}),
        )
        .await
        .value(),
    );
    assert_eq!(still.len(), 1, "nothing was removed");

    let right = sim.exo(&token, "Remove-MailboxPermission", json!({"Identity": finance, "User": lidia, "AccessRights": ["FullAccess"], "InheritanceType": "SelfAndChildren", "Confirm": false})).await;
    assert_eq!(right.body["@adminapi.warnings"], json!([]));
    let gone = lidias(
        sim.exo(
            &token,
            "Get-MailboxPermission",
            json!({"Identity": finance}),
        )
        .await
        .value(),
    );
    assert!(gone.is_empty(), "{gone:?}");
}

#[tokio::test]
async fn a_failure_inside_a_success_changes_nothing() {
    let sim = Sim::start("shared-mailbox-delegate").await;
    let token = sim.secret_token(EXCHANGE).await;
    let finance = sim.upn("finance");
    let lidia = sim.upn("lidia.holloway");
    sim.control(
        reqwest::Method::POST,
        "/faults",
        Some(json!({"exchangeErrorsInSuccessNext": 1})),
    )
    .await;
    let read = sim
        .exo(
            &token,
            "Get-MailboxPermission",
            json!({"Identity": finance}),
        )
        .await;
    assert!(
        read.body.get("@adminapi.errors").is_none(),
        "reads are not affected"
    );
    let remove = json!({"Identity": finance, "User": lidia, "AccessRights": ["FullAccess"], "InheritanceType": "All", "Confirm": false});
    let failed = sim
        .exo(&token, "Remove-MailboxPermission", remove.clone())
        .await;
    assert_eq!(failed.status, 200);
    let error = failed.body["@adminapi.errors"][0].as_str().unwrap();
    assert!(
        error.contains("|Microsoft.Exchange.Data.Directory.ADOperationException|"),
        "{error}"
    );
    let held = |rows: Vec<serde_json::Value>| rows.iter().any(|p| p["User"] == lidia);
    assert!(held(
        sim.exo(
            &token,
            "Get-MailboxPermission",
            json!({"Identity": finance})
        )
        .await
        .value()
    ));
    let done = sim.exo(&token, "Remove-MailboxPermission", remove).await;
    assert!(done.body.get("@adminapi.errors").is_none());
    assert!(!held(
        sim.exo(
            &token,
            "Get-MailboxPermission",
            json!({"Identity": finance})
        )
        .await
        .value()
    ));
}

#[tokio::test]
async fn transient_exchange_failures_name_the_exception_the_module_retries() {
    let sim = Sim::start("aitm").await;
    let token = sim.secret_token(EXCHANGE).await;
    sim.control(
        reqwest::Method::POST,
        "/faults",
        Some(json!({"exchangeTransientNext": 2})),
    )
    .await;
    assert_eq!(
        sim.get("/v1.0/users?$top=1").await.status,
        200,
        "Graph is not Exchange"
    );
    let megan = json!({"Identity": sim.upn("megan.bowen")});
    let first = sim.exo(&token, "Get-Mailbox", megan.clone()).await;
    let second = sim.exo(&token, "Get-Mailbox", megan.clone()).await;
    let exception = |reply: &crate::harness::Reply| {
        reply.body["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .split('|')
            .nth(1)
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        (first.status, exception(&first).as_str()),
        (500, "Microsoft.Exchange.Data.Directory.ServerInMMException")
    );
    assert_eq!(
        (second.status, exception(&second).as_str()),
        (
            400,
            "Microsoft.Exchange.Data.Directory.DCOverloadedException"
        ),
        "the status alone does not say it is worth retrying"
    );
    assert_eq!(sim.exo(&token, "Get-Mailbox", megan).await.status, 200);
}

#[tokio::test]
async fn a_lost_answer_leaves_the_change_done_and_retry_after_may_be_a_fraction() {
    let sim = Sim::start("aitm").await;
    let token = sim.secret_token(EXCHANGE).await;
    let megan = sim.upn("megan.bowen");
    let rules = sim
        .exo(
            &token,
            "Get-InboxRule",
            json!({"Mailbox": megan, "IncludeHidden": true}),
        )
        .await
        .value();
    let identity = rules[0]["Identity"].clone();
    sim.control(
        reqwest::Method::POST,
        "/faults",
        Some(json!({"dropAnswerNext": 1, "throttleNext": 1, "retryAfterSeconds": 1.5})),
    )
    .await;
    let throttled = sim
        .exo_raw(
            &token,
            "Get-InboxRule",
            json!({"Mailbox": megan, "IncludeHidden": true}),
            &[],
        )
        .await;
    assert_eq!(
        throttled.status, 429,
        "a read is not a change: throttled instead"
    );
    assert_eq!(
        throttled
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1.5")
    );
    let lost = sim
        .http
        .post(format!("{}/adminapi/beta/{}/InvokeCommand", sim.base, sim.tenant))
        .bearer_auth(&token)
        .header("X-CmdletName", "Remove-InboxRule")
        .header(
            "X-AnchorMailbox",
            format!("UPN:{}", identity.as_str().unwrap_or_default().split('\\').next().unwrap_or_default()),
        )
        .json(&json!({"CmdletInput": {"CmdletName": "Remove-InboxRule", "Parameters": {"Identity": identity, "Confirm": false}}}))
        .send()
        .await;
    assert!(lost.is_err(), "no answer: {lost:?}");
    let again = sim
        .exo(
            &token,
            "Remove-InboxRule",
            json!({"Identity": identity, "Confirm": false}),
        )
        .await;
    assert_eq!(
        again.status, 404,
        "the first try went through: a retry finds nothing"
    );
}

#[tokio::test]
async fn every_mailbox_has_the_hidden_rules_exchange_keeps_and_a_delegates_mailbox_its_delegate_rule(
) {
    let sim = Sim::start("shared-mailbox-delegate").await;
    let token = sim.secret_token(EXCHANGE).await;
    let names = |rules: &[serde_json::Value]| -> Vec<String> {
        rules
            .iter()
            .map(|r| r["Name"].as_str().unwrap().to_owned())
            .collect()
    };
    let grady = sim.upn("grady.archie");
    let all = sim
        .exo(
            &token,
            "Get-InboxRule",
            json!({"Mailbox": grady, "IncludeHidden": true}),
        )
        .await
        .value();
    let all_names = names(&all);
    for builtin in [
        "Junk E-Mail Rule",
        "Microsoft.Exchange.OOF.InternalSenders.Global",
        "Microsoft.Exchange.OOF.KnownExternalSenders.Global",
        "Microsoft.Exchange.OOF.AllExternalSenders.Global",
    ] {
        let rule = all
            .iter()
            .find(|r| r["Name"] == builtin)
            .unwrap_or_else(|| panic!("{builtin} missing: {all_names:?}"));
        for action in [
            "ForwardTo",
            "RedirectTo",
            "ForwardAsAttachmentTo",
            "MoveToFolder",
        ] {
            assert!(
                rule[action].is_null(),
                "{builtin} shows no {action}: {rule}"
            );
        }
        assert_eq!(rule["DeleteMessage"], false);
        assert_eq!(rule["Enabled"], builtin == "Junk E-Mail Rule");
    }
    assert!(
        !all_names.iter().any(|n| n.starts_with("Delegate Rule -")),
        "no delegates, no delegate rule: {all_names:?}"
    );
    let visible = sim
        .exo(&token, "Get-InboxRule", json!({"Mailbox": grady}))
        .await
        .value();
    assert_eq!(
        names(&visible),
        ["Finance digest"],
        "all of them are hidden"
    );
    let graph = sim
        .get(&format!(
            "/v1.0/users/{grady}/mailFolders/inbox/messageRules"
        ))
        .await;
    assert_eq!(graph.value().len(), 1, "nor does Graph list them");

    // Finance has a send-on-behalf delegate: Outlook's delegate rule is there too.
    let finance = sim
        .exo(
            &token,
            "Get-InboxRule",
            json!({"Mailbox": sim.upn("finance"), "IncludeHidden": true}),
        )
        .await
        .value();
    let delegate = names(&finance)
        .into_iter()
        .find(|n| n.starts_with("Delegate Rule -"))
        .expect("the delegate rule");
    assert!(delegate["Delegate Rule -".len()..]
        .chars()
        .all(|c| c.is_ascii_digit()));
}

#[tokio::test]
async fn new_mailboxes_are_named_by_object_id_and_get_recipient_says_who_a_name_is() {
    let sim = Sim::start("undated-methods").await;
    let token = sim.secret_token(EXCHANGE).await;
    let priya = sim.upn("priya.raman");
    let mailbox = sim
        .exo(&token, "Get-Mailbox", json!({"Identity": priya}))
        .await
        .value()[0]
        .clone();
    let object_id = mailbox["ExternalDirectoryObjectId"].as_str().unwrap();
    assert_eq!(
        mailbox["Name"], object_id,
        "made in 2023: named by her object id"
    );
    assert_eq!(mailbox["Identity"], object_id);
    let rules = sim
        .exo(&token, "Get-InboxRule", json!({"Mailbox": priya}))
        .await
        .value();
    assert!(rules.iter().all(|r| r["Identity"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{object_id}\\"))
        && r["MailboxOwnerId"] == object_id));
    let removed = sim
        .exo(
            &token,
            "Remove-InboxRule",
            json!({"Identity": rules[0]["Identity"], "Confirm": false}),
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.body);

    // Forwarding to a mail contact is written by the contact's name, not an address.
    let set = sim
        .exo(
            &token,
            "Set-Mailbox",
            json!({"Identity": priya, "ForwardingAddress": "priya.raman.home@mailbox.example"}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let mailbox = sim
        .exo(&token, "Get-Mailbox", json!({"Identity": priya}))
        .await
        .value()[0]
        .clone();
    assert_eq!(mailbox["ForwardingAddress"], "Priya Raman (home)");
    let contact = sim
        .exo(
            &token,
            "Get-Recipient",
            json!({"Identity": "Priya Raman (home)"}),
        )
        .await
        .value();
    assert_eq!(contact.len(), 1);
    assert_eq!(contact[0]["RecipientTypeDetails"], "MailContact");
    assert_eq!(
        contact[0]["ExternalEmailAddress"],
        "SMTP:priya.raman.home@mailbox.example"
    );
    let by_id = sim
        .exo(&token, "Get-Recipient", json!({"Identity": object_id}))
        .await
        .value();
    assert_eq!(by_id[0]["PrimarySmtpAddress"], priya.as_str());
    assert_eq!(by_id[0]["RecipientTypeDetails"], "UserMailbox");
    let group = sim
        .exo(
            &token,
            "Get-Recipient",
            json!({"Identity": "Accounts Payable"}),
        )
        .await
        .value();
    assert_eq!(
        group[0]["RecipientTypeDetails"],
        "MailUniversalSecurityGroup"
    );
    let sid = sim
        .exo(
            &token,
            "Get-Recipient",
            json!({"Identity": "S-1-5-21-2704283817-4139672356-1960338527-1183"}),
        )
        .await;
    assert_eq!(sid.status, 404, "a deleted account's SID names no one");
}

#[tokio::test]
async fn an_orphaned_sid_is_listed_among_a_mailboxs_permissions() {
    let sim = Sim::start("shared-mailbox-delegate").await;
    let token = sim.secret_token(EXCHANGE).await;
    let permissions = sim
        .exo(
            &token,
            "Get-MailboxPermission",
            json!({"Identity": sim.upn("finance")}),
        )
        .await
        .value();
    assert!(permissions
        .iter()
        .any(|p| p["User"].as_str().unwrap().starts_with("S-1-5-21-")
            && p["AccessRights"] == json!(["FullAccess"])));
}

#[tokio::test]
async fn a_cmdlet_outside_the_callers_roles_fails_every_time_while_the_others_answer() {
    let sim = Sim::start("aitm").await;
    let token = sim.secret_token(EXCHANGE).await;
    let megan = sim.upn("megan.bowen");
    sim.control(
        reqwest::Method::POST,
        "/faults",
        Some(json!({"missingCmdlets": ["Get-MailboxPermission"]})),
    )
    .await;
    for _ in 0..2 {
        let refused = sim
            .exo(&token, "Get-MailboxPermission", json!({"Identity": megan}))
            .await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(refused
            .body
            .to_string()
            .contains("CommandNotFoundException"));
    }
    let mailbox = sim
        .exo(&token, "Get-Mailbox", json!({"Identity": megan}))
        .await;
    assert_eq!(mailbox.status, 200, "{}", mailbox.body);
}
