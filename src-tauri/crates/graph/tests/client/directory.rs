//! Users, memberships, service principals and consent grants.

use firebreak_graph::{collect_items, directory::GrantFilter, ExposeSecret, SecretString};

use crate::support::{start, user, BREAK_GLASS, MEGAN, MEGAN_ID};

#[tokio::test]
async fn a_user_is_read_by_upn_or_object_id_with_the_selected_properties() {
    let t = start("aitm").await;
    let by_upn = t.client.get_user(&user(MEGAN)).await.unwrap();
    assert_eq!(by_upn.id, MEGAN_ID);
    assert_eq!(by_upn.account_enabled, Some(true));
    let by_id = t.client.get_user(&user(MEGAN_ID)).await.unwrap();
    assert_eq!(by_id.user_principal_name.as_deref(), Some(MEGAN));
    let missing = t
        .client
        .get_user(&user("nobody@contoso-training.onmicrosoft.com"))
        .await
        .unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    assert_eq!(missing.status(), Some(404));
    assert!(
        missing.request_id().is_some(),
        "the request id is kept for support"
    );
}

#[tokio::test]
async fn users_are_listed_and_filtered_with_a_quoted_value() {
    let t = start("aitm").await;
    let all = collect_items(t.client.list_users(None)).await.unwrap();
    assert!(all.len() >= 8, "{}", all.len());
    let filter = format!(
        "userPrincipalName eq {}",
        firebreak_graph::odata::quote(BREAK_GLASS)
    );
    let one = collect_items(t.client.list_users(Some(&filter)))
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    let hostile = format!(
        "displayName eq {}",
        firebreak_graph::odata::quote("x' or true or displayName eq '")
    );
    let none = collect_items(t.client.list_users(Some(&hostile)))
        .await
        .unwrap();
    assert!(
        none.is_empty(),
        "an injected clause must not widen the filter"
    );
}

#[tokio::test]
async fn revoke_disable_and_reset_change_the_account_and_are_read_back() {
    let t = start("aitm").await;
    let megan = user(MEGAN);
    assert!(t.client.revoke_sign_in_sessions(&megan).await.unwrap());
    t.client.set_account_enabled(&megan, false).await.unwrap();
    assert_eq!(
        t.client.get_user(&megan).await.unwrap().account_enabled,
        Some(false)
    );
    let password = SecretString::from("Xq7!long-random-generated-password-9Lm".to_owned());
    t.client
        .reset_password(&megan, &password, true)
        .await
        .unwrap();
    let actions = t.actions_text().await;
    assert!(
        actions.contains("revokeSignInSessions") || actions.contains("revoke"),
        "{actions}"
    );
    assert!(
        !actions.contains(password.expose_secret()),
        "the simulator log never shows the password"
    );
    t.client.set_account_enabled(&megan, true).await.unwrap();
    assert_eq!(
        t.client.get_user(&megan).await.unwrap().account_enabled,
        Some(true)
    );
}

#[tokio::test]
async fn memberships_owned_objects_and_app_assignments_are_listed() {
    let t = start("aitm").await;
    let megan = user(MEGAN);
    let groups = collect_items(t.client.list_member_of(&megan))
        .await
        .unwrap();
    assert!(groups.iter().all(|g| !g.id.is_empty()));
    collect_items(t.client.list_owned_objects(&megan))
        .await
        .unwrap();
    collect_items(t.client.list_user_app_role_assignments(&megan))
        .await
        .unwrap();
}

#[tokio::test]
async fn consent_grants_are_listed_read_revoked_and_the_app_disabled() {
    let t = start("aitm").await;
    let megan = user(MEGAN);
    let mine = collect_items(t.client.list_user_permission_grants(&megan))
        .await
        .unwrap();
    assert!(!mine.is_empty(), "the AiTM attacker consented to an app");
    let grant = &mine[0];
    let again = t.client.get_permission_grant(&grant.id).await.unwrap();
    assert_eq!(&again, grant);
    let filtered = collect_items(t.client.list_permission_grants(&GrantFilter {
        principal_id: Some(MEGAN_ID.into()),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert!(filtered.iter().any(|g| g.id == grant.id));
    let sp = t
        .client
        .get_service_principal(&grant.client_id)
        .await
        .unwrap();
    assert_eq!(sp.id, grant.client_id);
    collect_items(t.client.list_service_principal_app_role_assignments(&sp.id))
        .await
        .unwrap();
    collect_items(t.client.list_service_principal_app_role_assigned_to(&sp.id))
        .await
        .unwrap();

    t.client.delete_permission_grant(&grant.id).await.unwrap();
    assert!(t
        .client
        .get_permission_grant(&grant.id)
        .await
        .unwrap_err()
        .is_not_found());
    t.client.disable_service_principal(&sp.id).await.unwrap();
    assert_eq!(
        t.client
            .get_service_principal(&sp.id)
            .await
            .unwrap()
            .account_enabled,
        Some(false)
    );
}

#[tokio::test]
async fn hostile_ids_are_refused_before_anything_is_sent() {
    let t = start("aitm").await;
    let before = t.actions_text().await;
    assert!(t
        .client
        .delete_permission_grant("../users/x")
        .await
        .is_err());
    assert!(t
        .client
        .get_service_principal("x' or 1 eq 1")
        .await
        .is_err());
    assert!(t
        .client
        .disable_service_principal("not-a-guid")
        .await
        .is_err());
    assert_eq!(t.actions_text().await, before, "nothing reached the tenant");
}

/// Taking an account out of a directory role: the role is gone from `memberOf`, and a second
/// removal is a "not found" the caller can tell apart. An id that is not an object id never
/// reaches the tenant (the path must end in `/$ref`, or Graph would delete the member itself).
#[tokio::test]
async fn a_member_is_taken_out_of_a_directory_role_by_reference() {
    const GLOBAL_ADMIN_ROLE: &str = "051b5f58-9346-568a-8c26-916645791c3d";
    const BREAK_GLASS_ID: &str = "9e27f8ea-adf4-5f6f-a70b-5c7d71ffd2d8";
    let t = start("aitm").await;
    let roles = |items: Vec<firebreak_graph::directory::DirectoryObject>| -> Vec<String> {
        items.into_iter().map(|o| o.id).collect()
    };
    let before = collect_items(t.client.list_member_of(&user(BREAK_GLASS)))
        .await
        .unwrap();
    assert!(roles(before).contains(&GLOBAL_ADMIN_ROLE.to_owned()));
    t.client
        .remove_directory_role_member(GLOBAL_ADMIN_ROLE, BREAK_GLASS_ID)
        .await
        .unwrap();
    let after = collect_items(t.client.list_member_of(&user(BREAK_GLASS)))
        .await
        .unwrap();
    assert!(!roles(after).contains(&GLOBAL_ADMIN_ROLE.to_owned()));
    let again = t
        .client
        .remove_directory_role_member(GLOBAL_ADMIN_ROLE, BREAK_GLASS_ID)
        .await
        .unwrap_err();
    assert!(again.is_not_found(), "{again}");
    let refused = t
        .client
        .remove_directory_role_member(GLOBAL_ADMIN_ROLE, "../users/x")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, firebreak_graph::Error::InvalidInput { .. }),
        "{refused}"
    );
}
