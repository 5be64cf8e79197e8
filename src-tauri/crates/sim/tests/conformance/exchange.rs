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
    assert_eq!(all.value().len(), 3);
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
    assert_eq!(after.value().len(), 2);
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
