//! The webview is locked down: only Firebreak's own commands answer, and no remote content loads.

use crate::harness::App;

#[tokio::test]
async fn the_webview_cannot_call_anything_but_firebreaks_own_commands() {
    let app = App::launch().await;
    app.check(|ui| async move {
        // A granted command answers.
        let granted = ui
            .client()
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 window.__TAURI_INTERNALS__.invoke('app_info').then(
                   v => done({ ok: true, value: v }), e => done({ ok: false, error: String(e) }));",
                vec![],
            )
            .await?;
        assert_eq!(granted["ok"], true, "app_info is granted: {granted}");

        // A core plugin command that a default Tauri app may call is refused here.
        let refused = ui
            .client()
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 window.__TAURI_INTERNALS__.invoke('plugin:path|resolve_directory', { directory: 1 }).then(
                   v => done({ ok: true, value: v }), e => done({ ok: false, error: String(e) }));",
                vec![],
            )
            .await?;
        assert_eq!(refused["ok"], false, "path plugin must not be reachable: {refused}");
        let error = refused["error"].as_str().unwrap_or_default();
        assert!(error.contains("not allowed"), "refused by the capability, not by bad arguments: {error}");
        Ok(())
    })
    .await;
}

/// Serves one JavaScript file on loopback, so "remote" content is reachable and only the policy can
/// stop it (this machine has no other network).
fn serve_script_once() -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 2048];
            let _ = stream.read(&mut request);
            let body = "window.__remoteRan = true;";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[tokio::test]
async fn the_content_security_policy_blocks_remote_and_inline_scripts() {
    let port = serve_script_once();
    let app = App::launch().await;
    app.check(move |ui| async move {
        let outcome = ui
            .client()
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 const s = document.createElement('script');
                 s.textContent = 'window.__inlineRan = true';
                 document.head.appendChild(s);
                 const r = document.createElement('script');
                 r.src = 'http://127.0.0.1:' + arguments[0] + '/x.js';
                 const report = () => done({ inline: window.__inlineRan === true, remote: window.__remoteRan === true });
                 r.onerror = report;
                 r.onload = report;
                 document.head.appendChild(r);",
                vec![serde_json::json!(port)],
            )
            .await?;
        assert_eq!(
            outcome["inline"], false,
            "an injected inline script must not run: {outcome}"
        );
        assert_eq!(
            outcome["remote"], false,
            "a script from another origin must not run: {outcome}"
        );
        Ok(())
    })
    .await;
}
