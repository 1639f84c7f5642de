//! One deployment of the separate processes: shared settings, the log directory, the
//! OTLP receiver every process exports to, and starting, stopping and killing processes.

use std::{
    collections::HashMap,
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use commerce_system_tests::{
    eventually,
    otlp::OtlpReceiver,
    process::{bin, free_port},
};
use reqwest::{Client, StatusCode};
use tokio::process::{Child, Command};

use super::{ADMIN, INVENTORY_TOKEN, SESSION_MS};

/// One deployment: shared settings, log directory, and the running processes.
pub(crate) struct Deployment {
    /// Where every process sends its spans.
    pub(crate) otlp: OtlpReceiver,
    /// The card processor's origin.
    pub(crate) payments: String,
    pub(crate) env: Vec<(String, String)>,
    /// Where each worker (by label) serves its probes and metrics.
    pub(crate) probes: HashMap<String, String>,
    pub(crate) logs: PathBuf,
    pub(crate) children: Vec<(String, Child)>,
    pub(crate) client: Client,
}

impl Deployment {
    pub(crate) fn new(database_url: &str) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let logs = std::env::temp_dir().join(format!("commerce-processes-{id}"));
        std::fs::create_dir_all(&logs).unwrap();
        let otlp = OtlpReceiver::start();
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.endpoint()),
            // Spans leave within 200 ms rather than the default 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY", "200".into()),
            ("DATABASE_URL", database_url.to_owned()),
            ("REDIS_URL", std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())),
            ("KAFKA_BROKERS", std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())),
            ("KAFKA_TOPIC_PREFIX", format!("test-{id}")),
            ("INVENTORY_NAMESPACE", format!("test-{id}")),
            ("INVENTORY_TOKEN", INVENTORY_TOKEN.into()),
            ("PROJECTOR_GROUP", format!("test-{id}-read-model")),
            // A killed projector's partitions pass to its successor after this long.
            ("KAFKA_SESSION_TIMEOUT_MS", SESSION_MS.to_string()),
            ("COMMERCE_ADMIN_TOKEN", ADMIN.into()),
            ("RUST_LOG", "info,librdkafka=warn".into()),
        ];
        Self {
            otlp,
            payments: String::new(),
            env: env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            probes: HashMap::new(),
            logs,
            children: vec![],
            client: Client::new(),
        }
    }

    /// Starts `name` with the shared settings plus `extra`; `label` names it for `kill`.
    /// The relay and the projector get probe ports of their own (`probes`).
    pub(crate) fn start(&mut self, label: &str, name: &str, args: &[&str], extra: &[(&str, String)]) {
        let probes: Vec<(&str, String)> = if matches!(name, "outbox-relay" | "projector") {
            let port = free_port();
            self.probes.insert(label.to_owned(), format!("http://127.0.0.1:{port}"));
            vec![("COMMERCE_LISTEN", format!("127.0.0.1:{port}"))]
        } else {
            vec![]
        };
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.logs.join(format!("{label}.log"))).unwrap();
        let child = Command::new(bin(name))
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().chain(&probes).map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.children.push((label.to_owned(), child));
    }

    /// SIGKILL, as a crash: no shutdown path runs.
    pub(crate) async fn kill(&mut self, label: &str) {
        self.take(label).kill().await.unwrap();
    }

    pub(crate) fn take(&mut self, label: &str) -> Child {
        let i = self.children.iter().position(|(l, _)| l == label).unwrap();
        self.children.remove(i).1
    }

    /// A shared setting's value.
    pub(crate) fn setting(&self, key: &str) -> String {
        self.env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    pub(crate) async fn ready(&self, base: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(r) = self.client.get(format!("{base}/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{base} never became ready; see the logs in {}", self.logs.display());
    }

    /// SIGTERM, as an operator's restart: the process leaves its consumer group.
    pub(crate) async fn stop(&mut self, label: &str) {
        let mut child = self.take(label);
        let pid = child.id().unwrap().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().await.unwrap().success());
        child.wait().await.unwrap();
    }

    /// Polls `check` until it returns `Ok`, for up to `secs` seconds.
    pub(crate) async fn eventually<F, Fut>(&self, secs: u64, what: &str, check: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        if let Err(e) = eventually(secs, check).await {
            panic!("{what}: {e} after {secs} s; see the logs in {}", self.logs.display())
        }
    }
}
