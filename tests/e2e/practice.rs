//! The containment wizard through the UI: the AiTM practice scenario started from Practice, triage
//! and every containment step confirmed with the recommended selection, then the simulated
//! tenant's own records checked — the order of the changes (`/_sim/actions`), what was removed
//! (`/_sim/score`) — and that none of the scenario's hostile strings ran as script.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::Path,
};

use serde_json::Value;

use crate::harness::{App, Locator, Ui};

/// GET `url` (plain HTTP on loopback) and parse the JSON body.
pub(crate) fn get_json(url: &str) -> Value {
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').map_or((rest, "/"), |(h, p)| (h, p));
    let mut stream = TcpStream::connect(host).expect("connect to the training tenant");
    write!(
        stream,
        "GET /{} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
        path.trim_start_matches('/')
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("http response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    serde_json::from_str(&body).expect("json body")
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// The journal of the only case in the data folder, one JSON value per entry.
pub(crate) fn journal(data_dir: &Path) -> Vec<Value> {
    let cases = std::fs::read_dir(data_dir.join("cases")).expect("cases folder");
    let case = cases.flatten().next().expect("one case").path();
    std::fs::read_to_string(case.join("journal.jsonl"))
        .expect("journal")
        .lines()
        .map(|l| serde_json::from_str(l).expect("journal entry"))
        .collect()
}

/// Confirms the step on screen with the plan as recommended; returns its key.
pub(crate) async fn confirm_current_step(
    ui: &Ui,
    account: &str,
) -> Result<String, fantoccini::error::CmdError> {
    let panel = ui.find(Locator::Css("[data-testid=step-panel]")).await?;
    let key = panel.attr("data-step").await?.unwrap_or_default();
    // The plan is read from the tenant before the primary button appears.
    let primary = ui
        .wait_for_text("[data-testid=step-primary]", |t| !t.is_empty())
        .await?;
    assert!(
        !primary.contains("Re-verify"),
        "no step is interrupted in a straight run: {key}"
    );
    ui.click("[data-testid=step-primary]").await?;
    ui.find(Locator::Css("[data-testid=confirm-dialog]"))
        .await?;
    let destructive = ui
        .client()
        .find_all(Locator::Css("[data-testid=confirm-account]"))
        .await?;
    if let Some(input) = destructive.first() {
        let confirm = ui.find(Locator::Css("[data-testid=confirm-run]")).await?;
        assert!(
            !confirm.is_enabled().await?,
            "{key}: confirm stays disabled until the account name is typed"
        );
        input.send_keys(account).await?;
    }
    ui.click("[data-testid=confirm-run]").await?;
    let result = ui.find(Locator::Css("[data-testid=step-result]")).await?;
    let verified = result.attr("data-verified").await?.unwrap_or_default();
    assert_eq!(
        verified,
        "true",
        "{key} was read back: {}",
        result.text().await?
    );
    ui.click("[data-testid=step-next]").await?;
    Ok(key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aitm_practice_is_contained_through_the_wizard_in_order_with_hostile_strings_as_text() {
    let app = App::launch().await;
    app.check(|ui| async move {
        // Any payload that ran would call alert(); record it instead of blocking the page.
        ui.client()
            .execute("window.alert = function () { window.__hostileScriptRan = true }", vec![])
            .await?;
        ui.click("nav [data-section=practice]").await?;
        ui.click("[data-scenario=aitm] [data-testid=start-practice]").await?;
        let account = ui
            .wait_for_text("[data-testid=wizard-account]", |t| !t.is_empty())
            .await?;

        let mut done = Vec::new();
        let mut shown_text = String::new();
        for _ in 0..20 {
            // Containment ends where the blast-radius list begins.
            let complete = ui
                .client()
                .find_all(Locator::Css("[data-testid=blast-checks]"))
                .await?;
            if !complete.is_empty() {
                break;
            }
            ui.find(Locator::Css("[data-testid=plan-summary], [data-testid=blast-checks]"))
                .await?;
            if let Ok(table) = ui.client().find(Locator::Css("[data-testid=plan-table]")).await {
                shown_text.push_str(&table.text().await?);
            }
            if !ui
                .client()
                .find_all(Locator::Css("[data-testid=blast-checks]"))
                .await?
                .is_empty()
            {
                break;
            }
            done.push(confirm_current_step(&ui, &account).await?);
        }
        let expected_order = ["triage", "preserve", "revoke", "disable", "reset"];
        for (i, key) in expected_order.iter().enumerate() {
            assert_eq!(done.get(i).map(String::as_str), Some(*key), "steps run: {done:?}");
        }
        ui.find(Locator::Css("[data-testid=blast-checks]")).await?;

        // The scenario's hostile names were shown exactly as the tenant has them: the
        // homoglyph app name and the rule name hiding a right-to-left override.
        assert!(
            shown_text.contains("Micr\u{43e}soft Mail Sync Service")
                && shown_text.contains("Microsoft Outlook Sync\u{202e}"),
            "the plans showed the hostile names as text: {shown_text}"
        );
        let ran = ui
            .client()
            .execute(
                "return [window.__hostileScriptRan === undefined, document.querySelector('img[src=x]') === null]",
                vec![],
            )
            .await?;
        assert_eq!(ran, serde_json::json!([true, true]), "no hostile script ran, no element was injected");

        ui.click("[data-testid=show-debrief]").await?;
        let url = ui
            .wait_for_text("[data-testid=training-tenant-url]", |t| t.starts_with("http://127.0.0.1:"))
            .await?;
        assert_eq!(ui.text_of("[data-testid=debrief-regained]").await?, "No");
        // Kept for reviewers of the debrief screen; a failure to save it is not the test's.
        if let Ok(png) = ui.client().screenshot().await {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-artifacts");
            let _ = std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(dir.join("practice-debrief.png"), png));
        }

        // The order of the changes, from the simulated tenant's own log.
        let actions = get_json(&format!("{url}/_sim/actions"));
        let actions = actions["actions"].as_array().cloned().unwrap_or_default();
        let position = |needle: &str| {
            actions
                .iter()
                .position(|a| a.to_string().to_lowercase().contains(needle))
                .unwrap_or_else(|| panic!("no {needle} in {actions:#?}"))
        };
        let (revoke, disable, reset) = (
            position("revokesigninsessions"),
            position("accountenabled"),
            position("passwordreset"),
        );
        assert!(revoke < disable && disable < reset, "revoke {revoke} < disable {disable} < reset {reset}");

        // Evidence was on disk before the first change reached the tenant.
        let entries = journal(ui.data_dir());
        let first_evidence = entries
            .iter()
            .position(|e| e["kind"] == "evidence_added")
            .expect("evidence saved");
        let first_change_step = entries
            .iter()
            .position(|e| e["kind"] == "step_started" && e["step"] == "a1.revoke")
            .expect("revoke started");
        assert!(first_evidence < first_change_step, "evidence before the first change");
        let evidence_at = entries[first_evidence]["time"].as_str().unwrap_or("").to_owned();
        let first_change_at = actions[0]["at"].as_str().unwrap_or("").to_owned();
        assert!(
            evidence_at[..19] <= first_change_at[..19],
            "evidence {evidence_at} before the first change {first_change_at}"
        );

        // Every attacker artefact gone, every look-alike kept.
        let score = get_json(&format!("{url}/_sim/score"));
        assert_eq!(score["attackerRegainedAccess"], false, "{score:#}");
        assert_eq!(score["attackerArtefacts"]["remaining"], serde_json::json!([]), "{score:#}");
        assert_eq!(score["legitimateArtefacts"]["removed"], serde_json::json!([]), "{score:#}");
        Ok(())
    })
    .await;
}
