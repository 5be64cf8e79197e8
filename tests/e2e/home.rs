//! The window opens on the home screen and the first command round trip works.

use crate::harness::{App, Locator};

#[tokio::test]
async fn the_window_opens_on_cases_and_shows_this_installations_facts() {
    let app = App::launch().await;
    app.check(|ui| async move {
        let heading = ui.find(Locator::Css("main h1")).await?;
        assert_eq!(
            heading.text().await?,
            "Cases",
            "the home screen is the Cases section"
        );

        // The version and data folder come from the `app_info` command: the IPC path works.
        let version = ui.text_of("[data-testid=app-version]").await?;
        assert_eq!(
            version,
            env!("CARGO_PKG_VERSION"),
            "version shown must be the binary's"
        );
        let data_dir = ui.text_of("[data-testid=data-dir]").await?;
        assert_eq!(
            data_dir,
            ui.data_dir().display().to_string(),
            "the data folder given on the command line"
        );

        let tenant = ui.text_of("[data-testid=tenant-state]").await?;
        assert!(
            tenant.contains("Training tenant"),
            "a fresh installation works on the training tenant: {tenant}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn every_section_is_reachable_from_the_navigation() {
    let app = App::launch().await;
    app.check(|ui| async move {
        for (section, title) in [
            ("practice", "Practice"),
            ("readiness", "Readiness"),
            ("settings", "Settings"),
            ("cases", "Cases"),
        ] {
            ui.click(&format!("nav [data-section={section}]")).await?;
            let heading = ui.text_of("main h1").await?;
            assert_eq!(heading, title, "clicking {section} must open its page");
        }
        Ok(())
    })
    .await;
}
