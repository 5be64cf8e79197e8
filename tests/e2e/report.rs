//! The Report step of a case through the UI: a practice case opened from Practice, its triage run
//! through the wizard, then the Report tab shows the first page (an image drawn from the PDF's own
//! layout), the lessons learned are saved to the journal, and Save writes the PDF and the timeline
//! into the exports folder.

use std::path::Path;

use crate::harness::{App, Locator};
use crate::practice::journal;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_step_of_a_practice_case_shows_the_first_page_and_saves_the_pdf() {
    let app = App::launch().await;
    app.check(|ui| async move {
        ui.click("nav [data-section=practice]").await?;
        ui.click("[data-scenario=aitm] [data-testid=start-practice]")
            .await?;
        ui.wait_for_text("[data-testid=wizard-account]", |t| !t.is_empty())
            .await?;

        ui.click("[data-tab=report]").await?;
        let preview = ui
            .find(Locator::Css("[data-testid=report-preview]"))
            .await?;
        // The image decoded: the SVG is a real page, not a broken image.
        let mut width = 0;
        for _ in 0..50 {
            width = ui
                .client()
                .execute(
                    "return document.querySelector('[data-testid=report-preview]').naturalWidth",
                    vec![],
                )
                .await?
                .as_u64()
                .unwrap_or(0);
            if width > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(width > 100, "the first page is drawn ({width} px wide)");
        let src = preview.attr("src").await?.unwrap_or_default();
        assert!(src.starts_with("data:image/svg+xml"), "shown as an image");
        let caption = ui.text_of(".report figcaption").await?;
        assert!(caption.starts_with("Page 1 of "), "{caption}");

        ui.fill(
            "[data-testid=lesson-to-improve]",
            "The alert sat unread for four hours.",
        )
        .await?;
        ui.click(".report .lessons button[type=submit]").await?;
        ui.wait_for_text(".report [role=status]", |t| {
            t.contains("saved in the case journal")
        })
        .await?;
        let lessons = journal(ui.data_dir())
            .into_iter()
            .filter(|e| e["kind"] == "lessons_recorded")
            .count();
        assert_eq!(lessons, 1, "the lessons are journaled once");

        ui.click("[data-testid=save-report]").await?;
        let pdf_path = ui
            .wait_for_text("[data-testid=report-pdf-path]", |t| t.ends_with(".pdf"))
            .await?;
        let pdf = std::fs::read(&pdf_path).expect("the saved report");
        assert!(pdf.starts_with(b"%PDF-"), "a PDF");
        assert!(
            Path::new(&pdf_path).starts_with(ui.data_dir().join("exports")),
            "saved in the data folder's exports: {pdf_path}"
        );
        let csv = pdf_path.replace(".pdf", ".timeline.csv");
        let timeline = std::fs::read_to_string(&csv).expect("the timeline beside it");
        assert!(timeline.starts_with("datetime,timestamp_desc,message"));

        // Kept for reviewers of the Report step; a failure to save it is not the test's.
        if let Ok(png) = ui.client().screenshot().await {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-artifacts");
            let _ = std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(dir.join("report-step.png"), png));
        }
        Ok(())
    })
    .await;
}
