//! A local OpenTelemetry collector for the tracing tests: `otlp/receiver.py` (Python's
//! `grpcio` and `opentelemetry-proto` from PyPI) records every span the binaries export.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;

/// A running receiver; stopped when dropped.
#[derive(Debug)]
pub struct OtlpReceiver {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    output: PathBuf,
}

/// One received span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSpan {
    /// The `service.name` of the process that sent it.
    pub service: String,
    /// 32 hexadecimal digits.
    pub trace_id: String,
    /// 16 hexadecimal digits.
    pub span_id: String,
    /// Empty for a trace's root.
    pub parent_span_id: String,
    /// The span's name.
    pub name: String,
}

impl OtlpReceiver {
    /// Starts a receiver on a free port; fails loudly when Python's packages are missing.
    pub fn start() -> Self {
        let port = crate::process::free_port();
        let output = std::env::temp_dir().join(format!("commerce-otlp-{}-{port}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&output);
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("otlp/receiver.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(&output)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 {}: {e}", script.display()));
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self { child, port, output };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the OTLP receiver exited ({status}): pip install grpcio opentelemetry-proto");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the OTLP receiver did not listen on port {port} (pip install grpcio opentelemetry-proto)");
    }

    /// The endpoint to give as `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        let text = std::fs::read_to_string(&self.output).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .map(|v| {
                let field = |name: &str| v[name].as_str().unwrap_or_default().to_owned();
                ReceivedSpan {
                    service: field("service"),
                    trace_id: field("trace_id"),
                    span_id: field("span_id"),
                    parent_span_id: field("parent_span_id"),
                    name: field("name"),
                }
            })
            .collect()
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.output);
    }
}
