//! Issue #7 through the UI: the AiTM practice from triage to recovery — containment, the
//! blast-radius list run in one go, every remaining check worked (findings remediated with the
//! recommended selection, the manual checks answered by hand with a note), the sideways sweep,
//! recovery and the watch window — a notification logged from the Communication panel, and a
//! watch alert once the simulator's attacker comes back.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::Path,
    time::{Duration, Instant},
};

use fantoccini::error::CmdError;
use serde_json::{json, Value};

use crate::{
    harness::{App, Locator, Ui},
    practice::{confirm_current_step, get_json, journal},
};

/// POST `body` as JSON to `url` (plain HTTP on loopback); returns the status line.
fn post_json(url: &str, body: &Value) -> String {
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').expect("a path");
    let body = body.to_string();
    let mut stream = TcpStream::connect(host).expect("connect to the training tenant");
    write!(
        stream,
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response.lines().next().unwrap_or_default().to_owned()
}

/// Keeps a screenshot for reviewers under `target/e2e-artifacts/`; a failure to save is not the
/// test's.
async fn keep_screenshot(ui: &Ui, name: &str) {
    if let Ok(png) = ui.client().screenshot().await {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-artifacts");
        let _ = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join(format!("{name}.png")), png));
    }
}

/// Whether an element matching `css` is on screen now (no waiting).
async fn present(ui: &Ui, css: &str) -> Result<bool, CmdError> {
    Ok(!ui.client().find_all(Locator::Css(css)).await?.is_empty())
}

/// Waits up to `limit` for `css` to appear.
async fn wait_for(ui: &Ui, css: &str, limit: Duration) -> Result<(), CmdError> {
    let deadline = Instant::now() + limit;
    while !present(ui, css).await? {
        assert!(
            Instant::now() < deadline,
            "{css} did not appear within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Scrolls the element matching `css` to the top of the window (for the kept screenshots).
async fn scroll_to(ui: &Ui, css: &str) -> Result<(), CmdError> {
    ui.client()
        .execute(
            "document.querySelector(arguments[0])?.scrollIntoView()",
            vec![json!(css)],
        )
        .await?;
    Ok(())
}

/// Answers the manual check on screen with "Nothing found" and `note`, and records it.
async fn answer_by_hand(ui: &Ui, note: &str) -> Result<(), CmdError> {
    let portal = ui.text_of("[data-testid=manual-portal]").await?;
    assert!(
        portal.contains("admin"),
        "a manual check says where to look: {portal}"
    );
    ui.click("[data-row='answer:nothing'] input").await?;
    ui.fill("[data-testid=step-note]", note).await?;
    scroll_to(ui, "[data-testid=step-panel]").await?;
    keep_screenshot(ui, "manual-check").await;
    ui.click("[data-testid=step-primary]").await?;
    ui.click("[data-testid=confirm-run]").await?;
    let result = ui.find(Locator::Css("[data-testid=step-result]")).await?;
    assert_eq!(
        result.attr("data-verified").await?.as_deref(),
        Some("true"),
        "an answer by hand is recorded: {}",
        result.text().await?
    );
    ui.click("[data-testid=step-next]").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_practice_goes_from_triage_to_recovery_with_a_check_by_hand_a_logged_notification_and_a_watch_alert(
) {
    let app = App::launch().await;
    app.check(|ui| async move {
        ui.client()
            .execute("window.alert = function () { window.__hostileScriptRan = true }", vec![])
            .await?;
        ui.click("nav [data-section=practice]").await?;
        ui.click("[data-scenario=aitm] [data-testid=start-practice]").await?;
        let account = ui
            .wait_for_text("[data-testid=wizard-account]", |t| !t.is_empty())
            .await?;

        // Triage and containment, each with the recommended selection, up to the checks list.
        let mut contained = Vec::new();
        for _ in 0..12 {
            ui.find(Locator::Css("[data-testid=plan-summary], [data-testid=blast-checks]"))
                .await?;
            if present(&ui, "[data-testid=blast-checks]").await? {
                break;
            }
            contained.push(confirm_current_step(&ui, &account).await?);
        }
        assert_eq!(
            contained.first().map(String::as_str),
            Some("triage"),
            "{contained:?}"
        );
        assert!(contained.iter().any(|k| k == "revoke"), "{contained:?}");

        // Run all checks: clean and unavailable ones are recorded, the rest wait. The Purview
        // audit searches take about 90 seconds of the training tenant's (real-speed) time.
        ui.click("[data-testid=run-all-checks]").await?;
        wait_for(&ui, "[data-testid=checks-progress]", Duration::from_secs(10)).await?;
        scroll_to(&ui, "[data-testid=blast-checks]").await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        keep_screenshot(&ui, "checks-running").await;
        wait_for(&ui, "[data-testid=checks-summary]", Duration::from_secs(300)).await?;
        let summary = ui.text_of("[data-testid=checks-summary]").await?;
        assert!(summary.contains("recorded"), "{summary}");
        let recorded = ui
            .client()
            .find_all(Locator::Css("[data-testid=check-row][data-status=clean]"))
            .await?;
        assert!(!recorded.is_empty(), "some checks came back clean: {summary}");
        keep_screenshot(&ui, "blast-checks").await;

        // Work through what is left: findings with the recommended selection, the manual
        // checks by hand, then the sideways sweep.
        let mut by_hand = Vec::new();
        let mut worked = Vec::new();
        for _ in 0..20 {
            if !present(&ui, "[data-testid=blast-checks]").await? {
                break;
            }
            let open = ui
                .client()
                .find_all(Locator::Css("[data-testid=check-row][data-status=open]"))
                .await?;
            let Some(row) = open.first() else { break };
            let key = row.attr("data-check").await?.unwrap_or_default();
            row.find(Locator::Css("[data-testid=open-check]"))
                .await?
                .click()
                .await?;
            ui.find(Locator::Css("[data-testid=plan-summary]")).await?;
            if present(&ui, "[data-testid=manual-check]").await? {
                answer_by_hand(
                    &ui,
                    "Looked in the Power Platform admin center: nothing owned by the account.",
                )
                .await?;
                by_hand.push(key.clone());
            } else {
                confirm_current_step(&ui, &account).await?;
            }
            worked.push(key);
            ui.find(Locator::Css(
                "[data-testid=blast-checks], [data-testid=step-panel][data-step=enable]",
            ))
            .await?;
        }
        assert!(
            by_hand.iter().any(|k| k == "blast-flows"),
            "the flows check is done by hand: {worked:?}"
        );

        // Recovery: the gate is open, then re-enable, the pass, the password, the watch.
        let gate = ui
            .find(Locator::Css("[data-testid=gate-state]"))
            .await?;
        assert_eq!(
            gate.attr("data-open").await?.as_deref(),
            Some("true"),
            "every containment step verified and every check finished: {}",
            gate.text().await?
        );
        let mut recovered = Vec::new();
        for _ in 0..6 {
            ui.find(Locator::Css("[data-testid=plan-summary], [data-testid=wizard-complete]"))
                .await?;
            if present(&ui, "[data-testid=wizard-complete]").await? {
                break;
            }
            recovered.push(confirm_current_step(&ui, &account).await?);
        }
        assert!(
            recovered.iter().any(|k| k == "enable") && recovered.iter().any(|k| k == "watch"),
            "{recovered:?}"
        );
        let window = ui.find(Locator::Css("[data-testid=watch-window]")).await?;
        assert_eq!(window.attr("data-active").await?.as_deref(), Some("true"));
        keep_screenshot(&ui, "recovery-watch").await;

        // Tell the user, by phone, from the Communication panel.
        ui.click("[data-tab=communication]").await?;
        scroll_to(&ui, "[data-testid=comms-warning]").await?;
        keep_screenshot(&ui, "communication-top").await;
        let warning = ui.text_of("[data-testid=comms-warning]").await?;
        assert!(warning.contains("Teams"), "{warning}");
        ui.click("[data-contact=user]").await?;
        let script = ui
            .find(Locator::Css("[data-testid=draft-text]"))
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        assert!(script.contains(&account), "the script names the account: {script}");
        ui.click("[data-testid=log-told]").await?;
        ui.fill("[data-testid=notification-form] [name=recipient]", "Jane Doe")
            .await?;
        ui.click("[data-testid=notification-submit]").await?;
        ui.wait_for_text("[data-testid=comms-log]", |t| t.contains("Jane Doe"))
            .await?;
        let status = ui
            .wait_for_text("[data-contact=user] [data-testid=contact-status]", |t| {
                t.starts_with("Told")
            })
            .await?;
        assert!(status.starts_with("Told"), "{status}");
        keep_screenshot(&ui, "communication").await;

        // The attacker comes back: the watch notices.
        ui.click("[data-testid=show-debrief]").await?;
        let url = ui
            .wait_for_text("[data-testid=training-tenant-url]", |t| {
                t.starts_with("http://127.0.0.1:")
            })
            .await?;
        let answer = post_json(
            &format!("{url}/_sim/attacker/return"),
            &json!({"user": account, "actions": ["signIn", "inboxRule"]}),
        );
        assert!(answer.contains(" 200"), "{answer}");
        ui.click("[data-tab=response]").await?;
        ui.click("[data-testid=recheck-watch]").await?;
        let alerts = ui
            .wait_for_text("[data-testid=watch-alerts]", |t| !t.is_empty())
            .await?;
        assert!(!alerts.is_empty());
        scroll_to(&ui, "[data-testid=recovery-panel]").await?;
        keep_screenshot(&ui, "watch-alert").await;

        // Contain again, as the alert says: the done revoke step runs again from a fresh plan.
        ui.click("[data-step=revoke] .step-link").await?;
        ui.click("[data-testid=step-again]").await?;
        let again = confirm_current_step(&ui, &account).await?;
        assert_eq!(again, "revoke");
        let actions = get_json(&format!("{url}/_sim/actions"));
        let revokes = actions["actions"]
            .as_array()
            .map_or(0, |a| {
                a.iter()
                    .filter(|x| x.to_string().to_lowercase().contains("revokesigninsessions"))
                    .count()
            });
        assert_eq!(revokes, 2, "revoked at containment and again after the alert");

        // The journal holds the answer by hand, the notification and the alert.
        let entries = journal(ui.data_dir());
        let flows = entries
            .iter()
            .rev()
            .find(|e| e["kind"] == "step_finished" && e["step"] == "a1.blast-flows")
            .expect("the flows check finished");
        assert!(
            flows["details"]["detail"]["note"]
                .as_str()
                .is_some_and(|n| n.contains("Power Platform")),
            "{flows:#}"
        );
        let told = entries
            .iter()
            .find(|e| e["kind"] == "notification_logged")
            .expect("a notification");
        assert_eq!(told["details"]["role"], "user");
        assert_eq!(told["details"]["channel"], "phone");
        assert_eq!(told["details"]["warnings"], json!([]), "a phone call reaches the user safely");
        assert!(
            entries.iter().any(|e| e["kind"] == "watch_alert"),
            "the alert is in the case"
        );
        let actions = get_json(&format!("{url}/_sim/actions"));
        assert!(
            actions.to_string().contains("attacker returned"),
            "the simulator's log shows the return"
        );
        let ran = ui
            .client()
            .execute(
                "return [window.__hostileScriptRan === undefined, document.querySelector('img[src=x]') === null]",
                vec![],
            )
            .await?;
        assert_eq!(ran, json!([true, true]), "no hostile script ran");
        Ok(())
    })
    .await;
}
