//! The containment wizard on a declared (not practice) case: the incident is declared against the
//! training tenant profile in the declare form, and the Response tab reads its plan from that
//! tenant.

use crate::harness::{App, Locator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_declared_on_the_training_tenant_plans_triage_from_that_tenant() {
    let app = App::launch().await;
    app.check(|ui| async move {
        ui.click("[data-testid=declare-incident]").await?;
        // No profile is configured, so the form starts on the training tenant.
        ui.click("[data-testid=declare-tenant] option[value=training]")
            .await?;
        ui.fill("[data-testid=declare-form] [name=title]", "Drill")
            .await?;
        ui.fill(
            "[data-testid=declare-form] [name=accounts]",
            "megan.bowen@contoso-training.onmicrosoft.com",
        )
        .await?;
        ui.fill("[data-testid=declare-form] [name=commander]", "Sam Okafor")
            .await?;
        ui.click("[data-testid=declare-submit]").await?;

        let tenant = ui
            .wait_for_text("[data-testid=case-tenant]", |t| !t.is_empty())
            .await?;
        assert_eq!(tenant, "Training tenant (training)");

        ui.click("[data-tab=response]").await?;
        let account = ui
            .wait_for_text("[data-testid=wizard-account]", |t| !t.is_empty())
            .await?;
        assert!(account.contains("megan.bowen@"), "{account}");
        let panel = ui.find(Locator::Css("[data-testid=step-panel]")).await?;
        assert_eq!(panel.attr("data-step").await?.as_deref(), Some("triage"));
        // The plan is read from the tenant; a failure to reach it would show as the step's error.
        let shown = ui
            .find(Locator::Css(
                "[data-testid=plan-summary], [data-testid=step-error]",
            ))
            .await?;
        let testid = shown.attr("data-testid").await?.unwrap_or_default();
        let text = shown.text().await?;
        assert_eq!(
            testid, "plan-summary",
            "the wizard reached the tenant: {text}"
        );
        assert!(!text.is_empty(), "triage has a plan");
        Ok(())
    })
    .await;
}
