//! Screens as a person uses them late at night: at 1024×700, by keyboard alone, and checked by
//! axe-core (the accessibility rule engine, injected into the page from the UI's npm packages)
//! against WCAG 2.1 A and AA.

use std::{path::Path, time::Duration};

use fantoccini::{error::CmdError, key::Key};
use serde_json::Value;

use crate::harness::{App, Locator, Ui};

/// The smallest window the screens are designed for.
const WIDTH: u32 = 1024;
const HEIGHT: u32 = 700;
/// How many Tab presses a walk may take before it counts as lost.
const MAX_TABS: usize = 60;

/// The axe-core script from the UI's npm packages.
fn axe_source() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): install the UI's npm packages (`make test` does it)",
            path.display()
        )
    })
}

/// Runs axe-core on the page as it is now and returns its violations, one line each (rule, impact,
/// and the first elements it names).
async fn violations(ui: &Ui) -> Result<Vec<String>, CmdError> {
    let loaded = ui
        .client()
        .execute("return typeof window.axe !== 'undefined'", vec![])
        .await?;
    if loaded != Value::Bool(true) {
        ui.client().execute(&axe_source(), vec![]).await?;
    }
    let found = ui
        .client()
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               window.axe
                 .run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                 .then(r => done(r.violations.map(v =>
                   v.id + ' (' + v.impact + '): ' + v.help + ' — ' +
                   v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))))
                 .catch(e => done(['axe failed: ' + e]))"#,
            vec![],
        )
        .await?;
    Ok(found
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default())
}

/// What the focused element is, as `tag#testid[data-section]` for the walk's messages.
async fn focused(ui: &Ui) -> Result<String, CmdError> {
    let found = ui
        .client()
        .execute(
            r#"const e = document.activeElement;
               return e ? [e.tagName.toLowerCase(), e.getAttribute('data-testid') || '',
                           e.getAttribute('data-section') || '', (e.textContent || '').trim().slice(0, 40)]
                        : ['', '', '', '']"#,
            vec![],
        )
        .await?;
    let part = |i: usize| {
        found
            .get(i)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    Ok(format!("{}#{}[{}] {}", part(0), part(1), part(2), part(3)))
}

/// Presses Tab until the focused element's description contains `wanted`; returns how many
/// presses it took, or fails naming every element passed on the way.
async fn tab_to(ui: &Ui, wanted: &str) -> Result<usize, CmdError> {
    let mut passed = Vec::new();
    for presses in 0..MAX_TABS {
        let now = focused(ui).await?;
        if now.contains(wanted) {
            return Ok(presses);
        }
        passed.push(now);
        ui.client()
            .active_element()
            .await?
            .send_keys(&Key::Tab.to_string())
            .await?;
    }
    panic!("{wanted} was not reached by Tab; focus went through: {passed:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_practice_screen_passes_axe_at_1024_by_700_and_a_new_incident_starts_by_keyboard_alone()
{
    let app = App::launch().await;
    app.check(|ui| async move {
        ui.client().set_window_size(WIDTH, HEIGHT).await?;
        let (w, h) = ui.client().get_window_size().await?;
        assert!(
            w <= u64::from(WIDTH) && h <= u64::from(HEIGHT),
            "window is {w}×{h}"
        );

        // From the start of the page to the Practice section by keyboard.
        ui.find(Locator::Css("nav [data-section=practice]")).await?;
        tab_to(&ui, "[practice]").await?;
        ui.client()
            .active_element()
            .await?
            .send_keys(&Key::Enter.to_string())
            .await?;
        ui.find(Locator::Css("[data-testid=new-incident]")).await?;
        ui.find(Locator::Css("[data-testid=start-practice]"))
            .await?;

        let found = violations(&ui).await?;
        assert!(
            found.is_empty(),
            "axe-core on Practice:\n{}",
            found.join("\n")
        );

        // "A new incident" by keyboard: the size (arrow keys move within the radio group), the
        // seed, then Enter submits the form.
        tab_to(&ui, "#incident-size-").await?;
        let size = focused(&ui).await?;
        assert!(
            size.contains("#incident-size-small"),
            "the first size is small: {size}"
        );
        tab_to(&ui, "#incident-seed").await?;
        let seed = ui.client().active_element().await?;
        seed.send_keys("7").await?;
        seed.send_keys(&Key::Enter.to_string()).await?;
        let notice = ui
            .wait_for_text("[data-testid=generated-seed]", |t| t.contains("seed 7"))
            .await?;
        assert!(notice.contains("seed 7"), "{notice}");
        // The practice case opens on its first step, the primary action where the eye is.
        ui.find(Locator::Css("[data-testid=wizard-account]"))
            .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let found = violations(&ui).await?;
        assert!(
            found.is_empty(),
            "axe-core on the practice case:\n{}",
            found.join("\n")
        );
        Ok(())
    })
    .await;
}
