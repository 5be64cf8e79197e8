//! The case file through the UI: declare an incident, log a notification, export the evidence
//! bundle and verify it — in the window, and again with `firebreak verify` on the same file.

use std::{path::PathBuf, process::Command};

use crate::harness::{App, Locator};

#[tokio::test]
async fn an_incident_declared_in_the_ui_is_notified_exported_and_verified() {
    let app = App::launch().await;
    app.check(|ui| async move {
        ui.click("[data-testid=declare-incident]").await?;
        ui.fill(
            "[data-testid=declare-form] [name=title]",
            "Invoice fraud <b>j.doe</b>",
        )
        .await?;
        ui.fill(
            "[data-testid=declare-form] [name=accounts]",
            "j.doe@contoso.com",
        )
        .await?;
        ui.fill("[data-testid=declare-form] [name=commander]", "Sam Okafor")
            .await?;
        ui.click("[data-testid=declare-form] input[name=severity][value=critical]")
            .await?;
        ui.click("[data-testid=declare-submit]").await?;

        let title = ui.text_of("[data-testid=case-title]").await?;
        assert_eq!(
            title, "Invoice fraud <b>j.doe</b>",
            "typed text is shown as text"
        );
        assert_eq!(ui.text_of("[data-testid=case-severity]").await?, "Critical");
        assert_eq!(
            ui.text_of("[data-testid=case-accounts]").await?,
            "j.doe@contoso.com"
        );

        // Tell the user through their own Teams: logged, with the warning.
        ui.click("[data-testid=log-other]").await?;
        ui.click("[data-testid=notification-form] select[name=role] option[value=user]")
            .await?;
        ui.click("[data-testid=notification-form] select[name=channel] option[value=teams]")
            .await?;
        let advice = ui.text_of("[data-testid=channel-warning]").await?;
        assert!(advice.contains("phone or in person"), "{advice}");
        ui.fill(
            "[data-testid=notification-form] [name=recipient]",
            "Jane Doe",
        )
        .await?;
        ui.fill(
            "[data-testid=notification-form] [name=message]",
            "Do not use your laptop; IT will call you.",
        )
        .await?;
        ui.click("[data-testid=notification-submit]").await?;
        let log = ui
            .wait_for_text("[data-testid=comms-log]", |t| t.contains("Jane Doe"))
            .await?;
        assert!(log.contains("Do not use your laptop"), "{log}");
        let warning = ui
            .text_of("[data-testid=comms-log] [data-warning=compromisedChannel]")
            .await?;
        assert!(warning.contains("compromised account"), "{warning}");

        // Export the bundle and verify it in the window.
        ui.click("[data-tab=bundle]").await?;
        ui.click("[data-testid=export-bundle]").await?;
        let bundle = PathBuf::from(ui.text_of("[data-testid=bundle-path]").await?);
        assert!(
            bundle.starts_with(ui.data_dir().join("exports")),
            "the bundle goes to the exports folder: {}",
            bundle.display()
        );
        assert!(bundle.is_file(), "{} must exist", bundle.display());
        ui.click("[data-testid=verify-bundle]").await?;
        let result = ui
            .wait_for_text("[data-testid=verify-result]", |t| !t.is_empty())
            .await?;
        assert!(result.starts_with("Intact."), "{result}");

        // The timeline shows every action, the export included.
        ui.click("[data-tab=timeline]").await?;
        let timeline = ui.text_of("[data-testid=timeline]").await?;
        for expected in [
            "Incident declared",
            "Told Jane Doe",
            "Evidence bundle exported",
        ] {
            assert!(
                timeline.contains(expected),
                "{expected} missing from:\n{timeline}"
            );
        }
        let entries = ui
            .client()
            .find_all(Locator::Css("[data-testid=timeline] li"))
            .await?;
        assert_eq!(entries.len(), 3);

        // The same file passes the command-line verifier.
        let out = Command::new(binary())
            .arg("verify")
            .arg(&bundle)
            .output()
            .expect("run firebreak verify");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        assert!(stdout.contains("INTACT"), "{stdout}");
        Ok(())
    })
    .await;
}

fn binary() -> PathBuf {
    std::env::var_os("FIREBREAK_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/firebreak"),
        PathBuf::from,
    )
}
