//! Tenant connection through the UI: the readiness check against the built-in training tenant (the
//! simulated tenant the application starts inside itself), and a client-secret profile created in
//! Settings for a simulated tenant this test runs on loopback. No test talks to a real tenant.

use std::path::Path;

use firebreak_sim::{Scenario, SimOptions, SimServer};

use crate::harness::{App, Locator, Ui};

/// Every finding of the checklist on screen, as (id, status).
async fn findings(ui: &Ui) -> Result<Vec<(String, String)>, fantoccini::error::CmdError> {
    let mut out = Vec::new();
    for li in ui
        .client()
        .find_all(Locator::Css("[data-testid=readiness-findings] li"))
        .await?
    {
        let id = li.attr("data-finding").await?.unwrap_or_default();
        let status = li.attr("data-status").await?.unwrap_or_default();
        out.push((id, status));
    }
    Ok(out)
}

fn assert_green(findings: &[(String, String)]) {
    assert!(
        findings.len() >= 8,
        "the checklist covers sign-in, permissions, logs, retention and break-glass: {findings:?}"
    );
    for (id, status) in findings {
        assert!(
            status == "pass" || status == "info",
            "finding {id} is {status}, not pass: {findings:?}"
        );
    }
}

/// Everything the application wrote under its data folder (tenants file, logs), as text.
fn written_text(dir: &Path) -> String {
    let mut text = String::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return text;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            text.push_str(&written_text(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    text
}

#[tokio::test]
async fn the_training_tenant_shows_a_green_readiness_check_through_the_ui() {
    let training_tenant_id = Scenario::builtin("aitm")
        .expect("the shipped aitm scenario")
        .tenant_id()
        .to_owned();
    let app = App::launch().await;
    app.check(|ui| async move {
        ui.click("nav [data-section=readiness]").await?;
        let selected = ui
            .wait_for_text("[data-testid=readiness-profile]", |t| !t.is_empty())
            .await?;
        assert!(
            selected.contains("Training tenant"),
            "with nothing configured the training tenant is the default: {selected}"
        );

        ui.click("[data-testid=run-readiness]").await?;
        let summary = ui
            .wait_for_text("[data-testid=readiness-summary]", |t| {
                t.starts_with("Ready") || t.starts_with("Not ready")
            })
            .await?;
        assert!(summary.starts_with("Ready"), "{summary}");
        let tenant = ui.text_of("[data-testid=readiness-tenant]").await?;
        assert!(
            tenant.contains("Training tenant") && tenant.contains(&training_tenant_id),
            "the check ran against the simulated training tenant: {tenant}"
        );
        assert_green(&findings(&ui).await?);

        // The simulator runs inside the application on loopback, and nothing else was contacted.
        let log = written_text(&ui.data_dir().join("logs"));
        assert!(
            log.contains("training tenant (aitm) listening on http://127.0.0.1:"),
            "{log}"
        );
        Ok(())
    })
    .await;
}

/// The keychain needs a Secret Service on the session bus; `make test` provides one.
fn keychain_available() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        return true;
    }
    assert!(
        std::env::var_os("FIREBREAK_REQUIRE_KEYCHAIN").is_none(),
        "FIREBREAK_REQUIRE_KEYCHAIN is set but there is no D-Bus session bus for the Secret Service"
    );
    eprintln!("no D-Bus session bus: the client-secret profile test is skipped (run `make test`)");
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_secret_profile_is_created_tested_checked_and_deleted_without_its_secret_showing()
{
    if !keychain_available() {
        return;
    }
    // A simulated tenant of our own on loopback, standing in for a customer's tenant.
    let scenario = Scenario::builtin("aitm").expect("the shipped aitm scenario");
    let client_id = scenario.client_id().to_owned();
    let secret = scenario
        .client_secret()
        .expect("the scenario's app has a secret")
        .to_owned();
    let sim = SimServer::start(scenario, SimOptions::default())
        .await
        .expect("start the simulated tenant");
    let (base_url, tenant_id) = (sim.base_url(), sim.tenant_id());

    let app = App::launch().await;
    app.check(|ui| async move {
        ui.click("nav [data-section=settings]").await?;
        ui.click("[data-testid=add-profile]").await?;
        let form = "[data-testid=profile-form]";
        ui.fill(&format!("{form} [name=displayName]"), "Contoso <lab>")
            .await?;
        ui.fill(&format!("{form} [name=tenant]"), &tenant_id)
            .await?;
        ui.fill(&format!("{form} [name=clientId]"), &client_id)
            .await?;
        ui.click(&format!(
            "{form} input[name=authMethod][value=clientSecret]"
        ))
        .await?;
        ui.fill(&format!("{form} [name=clientSecret]"), &secret)
            .await?;
        ui.fill(
            &format!("{form} [name=breakGlassUpn]"),
            "breakglass@contoso-training.onmicrosoft.com",
        )
        .await?;
        ui.click(&format!("{form} details summary")).await?;
        ui.fill(&format!("{form} [name=baseUrl]"), &base_url)
            .await?;
        ui.click("[data-testid=profile-save]").await?;

        let added = ui
            .find(Locator::XPath(
                "//li[@data-profile-id][.//*[@data-testid='profile-name'][text()='Contoso <lab>']]",
            ))
            .await?;
        let id = added
            .attr("data-profile-id")
            .await?
            .expect("a profile item carries its id");
        let item = format!("li[data-profile-id='{id}']");

        ui.click(&format!("{item} [data-testid=test-profile]"))
            .await?;
        let test = ui
            .wait_for_text(&format!("{item} [data-testid=test-result]"), |t| {
                t.contains("Exchange Online")
            })
            .await?;
        assert!(
            test.contains("Microsoft Graph: signed in")
                && test.contains("Exchange Online: signed in"),
            "{test}"
        );

        // The secret went to the keychain: not on screen, not in Firebreak's files or logs.
        let page = ui.client().source().await?;
        assert!(
            !page.contains(&secret),
            "the secret must not reach the page"
        );
        let written = written_text(ui.data_dir());
        assert!(written.contains(&tenant_id), "the profile was saved");
        assert!(
            !written.contains(&secret),
            "the secret must not reach the data folder or logs"
        );

        ui.click("nav [data-section=readiness]").await?;
        ui.click(&format!(
            "[data-testid=readiness-profile-select] option[value='{id}']"
        ))
        .await?;
        ui.click("[data-testid=run-readiness]").await?;
        let summary = ui
            .wait_for_text("[data-testid=readiness-summary]", |t| {
                t.starts_with("Ready") || t.starts_with("Not ready")
            })
            .await?;
        assert!(summary.starts_with("Ready"), "{summary}");
        assert!(summary.contains("Contoso <lab>") && summary.contains(&tenant_id));
        assert_green(&findings(&ui).await?);

        ui.click("nav [data-section=settings]").await?;
        ui.click(&format!("{item} [data-testid=delete-profile]"))
            .await?;
        let confirm = ui
            .find(Locator::Css("[data-testid=confirm-delete]"))
            .await?;
        assert!(
            !confirm.is_enabled().await?,
            "deleting needs the name typed first"
        );
        ui.fill(
            "[data-testid=delete-dialog] [name=confirmName]",
            "Contoso <lab>",
        )
        .await?;
        ui.click("[data-testid=confirm-delete]").await?;
        let left = ui
            .wait_for_text("[data-testid=tenant-profiles] ul", |t| {
                !t.contains("Contoso <lab>")
            })
            .await?;
        assert!(!left.contains("Contoso <lab>"), "{left}");
        let remaining = ui
            .client()
            .find_all(Locator::Css("li[data-profile-id]"))
            .await?;
        assert_eq!(remaining.len(), 1, "only the training tenant is left");
        Ok(())
    })
    .await;
    sim.shutdown().await;
}
