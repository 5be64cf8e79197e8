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
            .remove_mailbox_permission(&megan, &who, &["FullAccess".into()])
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
        )
        .await
        .unwrap();
    assert!(
        !nothing.is_empty(),
        "removing a right nobody holds comes back as Exchange's warning"
    );
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
