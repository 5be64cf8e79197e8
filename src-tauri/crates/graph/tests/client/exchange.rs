//! Exchange Online cmdlets through InvokeCommand.

use firebreak_graph::collect_items;

use crate::support::{start, user, MEGAN};

#[tokio::test]
async fn get_inbox_rule_includes_hidden_rules_and_remove_inbox_rule_removes_one() {
    let t = start("aitm").await;
    let megan = user(MEGAN);
    let rules = t.client.all_inbox_rules(&megan).await.unwrap();
    let hidden = rules
        .iter()
        .find(|r| {
            r.name
                .as_deref()
                .is_some_and(|n| n.contains("Outlook Sync"))
        })
        .expect("the hidden rule is listed with IncludeHidden");
    let identity = hidden.identity.clone().unwrap();
    t.client.remove_inbox_rule(&megan, &identity).await.unwrap();
    let after = t.client.all_inbox_rules(&megan).await.unwrap();
    assert_eq!(after.len(), rules.len() - 1);
    assert!(after
        .iter()
        .all(|r| r.identity.as_deref() != Some(identity.as_str())));
}

#[tokio::test]
async fn mailbox_forwarding_and_send_on_behalf_are_read_and_cleared() {
    let t = start("aitm").await;
    let megan = user(MEGAN);
    let page = t.client.get_mailbox(&megan).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(page.raw.contains("\"value\""));
    t.client.clear_mailbox_forwarding(&megan).await.unwrap();
    let mailbox = t.client.get_mailbox(&megan).await.unwrap().items.remove(0);
    assert!(!mailbox.forwards());
    if let Some(delegate) = mailbox.grant_send_on_behalf_to.first().cloned() {
        t.client
            .remove_send_on_behalf(&megan, std::slice::from_ref(&delegate))
            .await
            .unwrap();
        let again = t.client.get_mailbox(&megan).await.unwrap().items.remove(0);
        assert!(!again.grant_send_on_behalf_to.contains(&delegate));
    } else {
        t.client
            .remove_send_on_behalf(&megan, &["nobody@contoso-training.onmicrosoft.com".into()])
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn full_access_and_send_as_delegates_are_read_and_removed() {
    let t = start("aitm").await;
    let megan = user(MEGAN);
    let full = collect_items(t.client.get_mailbox_permissions(&megan))
        .await
        .unwrap();
    let send_as = collect_items(t.client.get_recipient_permissions(&megan))
        .await
        .unwrap();
    let delegate = full.iter().find(|p| {
        p.is_inherited != Some(true)
            && !p.user.as_deref().unwrap_or("").starts_with("NT AUTHORITY")
            && p.access_rights.iter().any(|r| r == "FullAccess")
    });
    if let Some(p) = delegate {
        let who = p.user.clone().unwrap();
        let warnings = t
            .client
            .remove_mailbox_permission(
                &megan,
                &who,
                &["FullAccess".into()],
                p.inheritance_type.as_deref(),
            )
            .await
            .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let after = collect_items(t.client.get_mailbox_permissions(&megan))
            .await
            .unwrap();
        assert!(
            !after.iter().any(|q| q.user.as_deref() == Some(who.as_str())
                && q.access_rights.iter().any(|r| r == "FullAccess"))
        );
    }
    let trustee = send_as.iter().find(|p| {
        !p.trustee
            .as_deref()
            .unwrap_or("")
            .starts_with("NT AUTHORITY")
            && p.access_rights.iter().any(|r| r == "SendAs")
    });
    if let Some(p) = trustee {
        let who = p.trustee.clone().unwrap();
        let warnings = t
            .client
            .remove_recipient_permission(&megan, &who, &["SendAs".into()])
            .await
            .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let after = collect_items(t.client.get_recipient_permissions(&megan))
            .await
            .unwrap();
        assert!(!after
            .iter()
            .any(|q| q.trustee.as_deref() == Some(who.as_str())));
    }
    assert!(
        full.len() > 1 || !send_as.is_empty(),
        "the AiTM mailbox has delegates to review"
    );
    let nothing = t
        .client
        .remove_mailbox_permission(
            &megan,
            "nobody@contoso-training.onmicrosoft.com",
            &["FullAccess".into()],
            None,
        )
        .await
        .unwrap();
    assert!(
        !nothing.is_empty(),
        "removing a right nobody holds comes back as Exchange's warning"
    );
}

#[tokio::test]
async fn inbox_rules_of_every_mailbox_are_read_and_removed_wherever_the_mailbox_lives() {
    // The organisation's mailboxes sit on different servers; a rule cmdlet routed to another
    // mailbox's server is refused ("Cmdlet needs proxy"), so each call must name its mailbox.
    let t = start("aitm").await;
    let mailboxes = collect_items(t.client.list_mailboxes("UserMailbox"))
        .await
        .unwrap();
    assert!(mailboxes.len() > 2);
    let mut removed = 0;
    for mailbox in &mailboxes {
        let upn = user(mailbox.user_principal_name.as_deref().unwrap());
        let rules = t
            .client
            .all_inbox_rules(&upn)
            .await
            .unwrap_or_else(|e| panic!("{upn}: {e}"));
        if let Some(identity) = rules.first().and_then(|r| r.identity.clone()) {
            t.client
                .remove_inbox_rule(&upn, &identity)
                .await
                .unwrap_or_else(|e| panic!("{upn}: {e}"));
            removed += 1;
        }
    }
    assert!(removed > 0, "some mailbox had a rule to remove");
}

#[tokio::test]
async fn a_role_that_does_not_reach_rules_or_changes_is_explained_as_a_missing_role() {
    let t = crate::support::start_with_scenario("aitm", |s| {
        s["app"]["entraRoles"] = serde_json::json!(["Global Reader"]);
    })
    .await;
    let megan = user(MEGAN);
    t.client
        .get_mailbox(&megan)
        .await
        .expect("Global Reader reads mailboxes");
    let rules = t.client.all_inbox_rules(&megan).await.unwrap_err();
    assert!(
        matches!(rules, firebreak_graph::Error::PermissionDenied { .. }),
        "{rules:?}"
    );
    assert!(
        rules
            .to_string()
            .contains("Exchange Recipient Administrator"),
        "{rules}"
    );
    let change = t.client.clear_mailbox_forwarding(&megan).await.unwrap_err();
    assert!(
        matches!(change, firebreak_graph::Error::PermissionDenied { .. }),
        "{change:?}"
    );

    let t = crate::support::start_with_scenario("aitm", |s| {
        s["app"]["entraRoles"] = serde_json::json!([]);
    })
    .await;
    let none = t.client.get_mailbox(&megan).await.unwrap_err();
    assert!(
        matches!(none, firebreak_graph::Error::PermissionDenied { .. }),
        "{none:?}"
    );
    assert!(
        none.to_string().contains("Exchange Administrator"),
        "{none}"
    );
}

#[tokio::test]
async fn an_exchange_error_tells_its_cause_not_exchanges_generic_message() {
    let t = start("aitm").await;
    let nobody = user("nobody@contoso-training.onmicrosoft.com");
    let err = t.client.get_mailbox(&nobody).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(err.is_not_found());
    let cause = err.message().unwrap_or_default();
    assert!(
        cause.starts_with("The operation couldn't be performed because object 'nobody@contoso-training.onmicrosoft.com' couldn't be found"),
        "the cause from the details, without its Ex…|type| prefix: {cause}"
    );
    let told = err.to_string();
    assert!(told.contains("couldn't be found"), "{told}");
    assert!(!told.contains("Error executing cmdlet"), "{told}");
    assert!(
        err.raw_body()
            .is_some_and(|raw| raw.contains("Error executing cmdlet")),
        "the body is kept as received for support"
    );
}

#[tokio::test]
async fn a_failure_reported_inside_a_success_is_an_error_with_its_cause() {
    let t = start("shared-mailbox-delegate").await;
    let finance = user("finance@contoso-training.onmicrosoft.com");
    let lidia = "lidia.holloway@contoso-training.onmicrosoft.com";
    t.faults(serde_json::json!({"exchangeErrorsInSuccessNext": 1}))
        .await;
    let err = t
        .client
        .remove_mailbox_permission(&finance, lidia, &["FullAccess".into()], None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, firebreak_graph::Error::CmdletFailed { .. }),
        "{err:?}"
    );
    let told = err.to_string();
    assert!(
        told.contains("Active Directory operation failed") && !told.contains('|'),
        "the cause in plain words: {told}"
    );
    let still = collect_items(t.client.get_mailbox_permissions(&finance))
        .await
        .unwrap();
    assert!(still.iter().any(|p| p.user.as_deref() == Some(lidia)));
}

#[tokio::test]
async fn a_delegate_is_removed_with_the_inheritance_exchange_listed() {
    let t = crate::support::start_with_scenario("shared-mailbox-delegate", |scenario| {
        let rows = scenario["users"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .filter_map(|u| u.pointer_mut("/mailbox/permissions"))
            .filter_map(|p| p.as_array_mut())
            .flatten();
        for row in rows {
            row["inheritanceType"] = serde_json::json!("SelfAndChildren");
        }
    })
    .await;
    let finance = user("finance@contoso-training.onmicrosoft.com");
    let rows = collect_items(t.client.get_mailbox_permissions(&finance))
        .await
        .unwrap();
    let lidia = rows
        .iter()
        .find(|p| p.user.as_deref() == Some("lidia.holloway@contoso-training.onmicrosoft.com"))
        .unwrap();
    assert_eq!(lidia.inheritance_type.as_deref(), Some("SelfAndChildren"));
    let warnings = t
        .client
        .remove_mailbox_permission(
            &finance,
            lidia.user.as_deref().unwrap(),
            &lidia.access_rights,
            lidia.inheritance_type.as_deref(),
        )
        .await
        .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let after = collect_items(t.client.get_mailbox_permissions(&finance))
        .await
        .unwrap();
    assert!(!after.iter().any(|p| p.user == lidia.user));
}

#[tokio::test]
async fn get_recipient_says_a_mail_contact_delivers_outside_and_a_sid_names_no_one() {
    let t = start("undated-methods").await;
    let contact = t
        .client
        .get_recipient("Priya Raman (home)")
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(
        contact.recipient_type_details.as_deref(),
        Some("MailContact")
    );
    assert_eq!(
        contact.delivery_address().as_deref(),
        Some("priya.raman.home@mailbox.example")
    );
    assert!(!contact.is_group());
    let group = t
        .client
        .get_recipient("Accounts Payable")
        .await
        .unwrap()
        .items
        .remove(0);
    assert!(group.is_group());
    let orphan = t
        .client
        .get_recipient("S-1-5-21-2704283817-4139672356-1960338527-1183")
        .await
        .unwrap_err();
    assert!(orphan.is_not_found(), "{orphan}");
}
