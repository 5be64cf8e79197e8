//! Authentication methods and the Temporary Access Pass.

use firebreak_graph::{collect_items, methods::MethodKind, ExposeSecret};

use crate::support::{start, user, MEGAN};

#[tokio::test]
async fn methods_are_listed_polymorphically_and_per_kind() {
    let t = start("aitm").await;
    let megan = user(MEGAN);
    let all = collect_items(t.client.list_authentication_methods(&megan))
        .await
        .unwrap();
    assert!(all.len() >= 2, "{all:?}");
    assert!(
        all.iter().all(|m| m.kind().is_some()),
        "every method has a known @odata.type: {all:?}"
    );
    let phone = collect_items(t.client.list_methods_of_kind(&megan, MethodKind::Phone))
        .await
        .unwrap();
    assert!(
        phone.iter().all(|m| m.kind() == Some(MethodKind::Phone)),
        "{phone:?}"
    );
    let first = &all[0];
    let again = t
        .client
        .get_authentication_method(&megan, None, &first.id)
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
}

#[tokio::test]
async fn a_method_is_deleted_and_the_password_method_is_refused_locally() {
    let t = start("aitm").await;
    let megan = user(MEGAN);
    let all = collect_items(t.client.list_authentication_methods(&megan))
        .await
        .unwrap();
    let victim = all
        .iter()
        .find(|m| m.kind().is_some_and(|k| k.deletable()))
        .expect("a deletable method");
    let kind = victim.kind().unwrap();
    t.client
        .delete_authentication_method(&megan, kind, &victim.id)
        .await
        .unwrap();
    let after = collect_items(t.client.list_authentication_methods(&megan))
        .await
        .unwrap();
    assert!(after.iter().all(|m| m.id != victim.id));
    let refused = t
        .client
        .delete_authentication_method(
            &megan,
            MethodKind::Password,
            "28c10230-6103-485e-b985-444c60001490",
        )
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("cannot be deleted"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_temporary_access_pass_is_created_and_stays_secret() {
    let t = start("aitm").await;
    let tap = t
        .client
        .create_temporary_access_pass(&user(MEGAN), 60, true)
        .await
        .unwrap();
    let pass = tap
        .temporary_access_pass
        .as_ref()
        .expect("the pass is returned once");
    assert!(!pass.expose_secret().is_empty());
    assert!(
        !format!("{tap:?}").contains(pass.expose_secret()),
        "Debug never shows the pass"
    );
    assert_eq!(tap.lifetime_in_minutes, Some(60));
}

#[tokio::test]
async fn the_temporary_access_pass_policy_is_read() {
    let t = crate::support::start("aitm").await;
    let policy = t.client.get_temporary_access_pass_policy().await.unwrap();
    assert!(policy.is_enabled());
    assert!(policy.includes_all_users());
    assert_eq!(policy.minimum_lifetime_in_minutes, Some(60));
    assert_eq!(policy.maximum_lifetime_in_minutes, Some(480));
    assert!(policy.allows_lifetime(60) && !policy.allows_lifetime(30));
    assert!(policy.covers(&["987ba368-6858-5b40-9d6d-14473b630200".to_owned()]));
}
