//! The harness: a private Xvfb display, a `tauri-driver` on free ports, a fresh data directory, and
//! a WebDriver session that launches the real binary. Dropping it tears everything down.

use std::{
    future::Future,
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

pub use fantoccini::Locator;
use fantoccini::{elements::Element, error::CmdError, Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

/// How long to wait for the UI to show something before calling the test failed.
const UI_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a helper process may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A running application under test.
pub struct App {
    ui: Ui,
    // Field order is drop order: the session's processes go before the display they draw on.
    driver: Driver,
    display: Display,
    _scratch: tempfile::TempDir,
}

/// What a test uses to drive the UI: a WebDriver client plus the data folder of this run.
#[derive(Clone)]
pub struct Ui {
    client: Client,
    data_dir: PathBuf,
}

impl App {
    /// Starts a display and a driver, then opens the application with a fresh data directory.
    pub async fn launch() -> App {
        let binary = application_binary();
        let scratch = tempfile::Builder::new()
            .prefix("firebreak-e2e-")
            .tempdir()
            .expect("create a scratch directory for the test");
        let data_dir = scratch.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("create the data directory");
        let display = Display::start();
        let driver = Driver::start(&display, scratch.path());

        let capabilities = serde_json::json!({
            "tauri:options": {
                "application": binary,
                "args": ["--data-dir", data_dir],
            }
        });
        let capabilities = match capabilities {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("a JSON object literal"),
        };
        let url = format!("http://127.0.0.1:{}", driver.port);
        let mut attempt = 0;
        let client = loop {
            attempt += 1;
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                // A loaded machine can be slow to bring the driver up; a refused first request is
                // not a failure of the application.
                Err(e) if attempt < 3 => {
                    eprintln!("WebDriver session attempt {attempt} failed ({e}); retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => panic!("WebDriver could not start {}: {e}", binary.display()),
            }
        };

        App {
            ui: Ui { client, data_dir },
            driver,
            display,
            _scratch: scratch,
        }
    }

    /// Runs `test` against the UI. On failure — an assertion or a WebDriver error — a screenshot is
    /// saved under `target/e2e-artifacts/` before the test is failed, and everything is torn down.
    pub async fn check<F, Fut>(self, test: F)
    where
        F: FnOnce(Ui) -> Fut,
        Fut: Future<Output = Result<(), CmdError>> + Send + 'static,
    {
        let outcome = tokio::spawn(test(self.ui.clone())).await;
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(format!("WebDriver error: {error}")),
            Err(join) => Some(match join.try_into_panic() {
                Ok(payload) => panic_message(payload),
                Err(join) => format!("test task failed: {join}"),
            }),
        };
        if let Some(failure) = failure {
            let shot = self.save_screenshot().await;
            let _ = self.ui.client.clone().close().await;
            panic!("{failure}\n(screenshot: {shot})");
        }
        if let Err(error) = self.ui.client.clone().close().await {
            panic!("closing the WebDriver session failed: {error}");
        }
        drop(self.driver);
        drop(self.display);
    }

    async fn save_screenshot(&self) -> String {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-artifacts");
        let name = std::thread::current()
            .name()
            .unwrap_or("e2e")
            .replace("::", "-");
        let path = dir.join(format!("{name}.png"));
        match self.ui.client.screenshot().await {
            Ok(png) => {
                match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, png)) {
                    Ok(()) => path.display().to_string(),
                    Err(e) => format!("not saved: {e}"),
                }
            }
            Err(e) => format!("not taken: {e}"),
        }
    }
}

impl Ui {
    /// The data directory this run of the application was given.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The WebDriver client, for anything the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Waits for an element to appear and returns it.
    pub async fn find(&self, locator: Locator<'_>) -> Result<Element, CmdError> {
        self.client
            .wait()
            .at_most(UI_TIMEOUT)
            .for_element(locator)
            .await
    }

    /// Waits for the element matching `css` and returns its text.
    pub async fn text_of(&self, css: &str) -> Result<String, CmdError> {
        self.find(Locator::Css(css)).await?.text().await
    }

    /// Waits until the element matching `css` has text satisfying `ready`, and returns that text.
    pub async fn wait_for_text(
        &self,
        css: &str,
        ready: impl Fn(&str) -> bool,
    ) -> Result<String, CmdError> {
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            let text = self.text_of(css).await?;
            if ready(&text) || Instant::now() > deadline {
                return Ok(text);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the element matching `css` and clicks it.
    pub async fn click(&self, css: &str) -> Result<(), CmdError> {
        self.find(Locator::Css(css)).await?.click().await
    }

    /// Waits for the input matching `css`, clears it and types `text`.
    pub async fn fill(&self, css: &str, text: &str) -> Result<(), CmdError> {
        let input = self.find(Locator::Css(css)).await?;
        input.clear().await?;
        input.send_keys(text).await
    }
}

/// The binary under test: `FIREBREAK_BIN`, else the workspace's debug build.
fn application_binary() -> PathBuf {
    let path = match std::env::var_os("FIREBREAK_BIN") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/firebreak"),
    };
    let path = path.canonicalize().unwrap_or_else(|_| {
        panic!(
            "the application binary {} does not exist: build it with `make app` (or run `make test`)",
            path.display()
        )
    });
    path
}

/// A private X display for one test.
struct Display {
    number: u32,
    process: Child,
}

impl Display {
    fn start() -> Display {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let base = 100 + (std::process::id() % 400) * 10;
        for _ in 0..50 {
            let number = base + NEXT.fetch_add(1, Ordering::SeqCst) % 1000;
            if Path::new(&format!("/tmp/.X{number}-lock")).exists() {
                continue;
            }
            let process = Command::new("Xvfb")
                .arg(format!(":{number}"))
                .args(["-screen", "0", "1280x800x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("could not start Xvfb ({e}): run `make test`, which installs it")
                });
            let mut display = Display { number, process };
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
            let deadline = Instant::now() + START_TIMEOUT;
            while Instant::now() < deadline {
                if socket.exists() {
                    return display;
                }
                if let Ok(Some(_)) = display.process.try_wait() {
                    break; // display taken by someone else: try the next number
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = display.process.kill();
            let _ = display.process.wait();
        }
        panic!("could not start an Xvfb display after 50 attempts");
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// `tauri-driver` for one test, with `WebKitWebDriver` behind it.
struct Driver {
    port: u16,
    process: Child,
}

impl Driver {
    fn start(display: &Display, scratch: &Path) -> Driver {
        for dir in ["xdg-data", "xdg-cache", "xdg-config"] {
            std::fs::create_dir_all(scratch.join(dir)).expect("create the test's XDG folders");
        }
        let port = free_port();
        let native_port = free_port();
        let process = Command::new(tauri_driver())
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .env("DISPLAY", format!(":{}", display.number))
            // Keep WebKit, Mesa and the keyring out of the real home directory.
            .env("XDG_DATA_HOME", scratch.join("xdg-data"))
            .env("XDG_CACHE_HOME", scratch.join("xdg-cache"))
            .env("XDG_CONFIG_HOME", scratch.join("xdg-config"))
            // The display is thrown away after the test; a shader cache would only be written late.
            .env("MESA_SHADER_CACHE_DISABLE", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("could not start tauri-driver ({e}): run `make test`, which installs it")
            });
        let driver = Driver { port, process };
        // tauri-driver listens at once but forwards to WebKitWebDriver, which starts a moment later:
        // wait for both, or the first request fails.
        let deadline = Instant::now() + START_TIMEOUT;
        for (what, port) in [("tauri-driver", port), ("WebKitWebDriver", native_port)] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "{what} did not listen on port {port}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: tauri-driver then stops WebKitWebDriver, which would otherwise be
        // orphaned and keep the test's output open.
        if let Ok(pid) = i32::try_from(self.process.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.process.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn tauri_driver() -> PathBuf {
    if let Some(path) = std::env::var_os("TAURI_DRIVER") {
        return PathBuf::from(path);
    }
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|home| home.join("bin/tauri-driver"));
    match cargo_bin {
        Some(path) if path.exists() => path,
        _ => PathBuf::from("tauri-driver"),
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => "test panicked".to_owned(),
        },
    }
}
