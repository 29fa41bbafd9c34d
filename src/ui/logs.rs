//! Logs through `tracing`, on stderr only: `-v` the tool's own steps, `-vv` every AWS call
//! with its request id, `-vvv` the SDK's internals too; `RUST_LOG`, when set, decides instead.
//! Every line passes through the printer's redaction before it is written.

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use super::Printer;

/// The filter for a verbosity, or `None` for no logs.
fn filter(verbose: u8, rust_log: Option<String>) -> Option<EnvFilter> {
    let directives = match (rust_log, verbose) {
        (Some(v), _) => v,
        (None, 0) => return None,
        (None, 1) => "taegis_cloudtrail=info".to_string(),
        (None, 2) => "taegis_cloudtrail=debug".to_string(),
        (None, _) => "debug,taegis_cloudtrail=trace,hyper=info,hyper_util=info,h2=info,rustls=info,reqwest=info,tungstenite=info,tokio_tungstenite=info"
            .to_string(),
    };
    Some(EnvFilter::new(directives))
}

/// Start logging at this verbosity; true when logs are on.
pub fn init(printer: &Printer, verbose: u8) -> bool {
    let rust_log = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let Some(filter) = filter(verbose, rust_log) else {
        return false;
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Scrubbed(printer.clone()))
        .with_ansi(printer.color)
        .try_init()
        .is_ok()
}

/// Makes a writer per log line.
struct Scrubbed(Printer);

/// One log line, held until it is complete, then scrubbed and written at once.
pub struct Line {
    printer: Printer,
    text: Vec<u8>,
}

impl<'a> MakeWriter<'a> for Scrubbed {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line {
            printer: self.0.clone(),
            text: Vec::new(),
        }
    }
}

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if self.text.is_empty() {
            return;
        }
        let text = self.printer.scrub(&String::from_utf8_lossy(&self.text));
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_picks_the_filter_and_rust_log_wins() {
        assert!(filter(0, None).is_none());
        assert_eq!(
            filter(1, None).unwrap().to_string(),
            "taegis_cloudtrail=info"
        );
        assert_eq!(
            filter(2, None).unwrap().to_string(),
            "taegis_cloudtrail=debug"
        );
        assert!(
            filter(3, None)
                .unwrap()
                .to_string()
                .contains("taegis_cloudtrail=trace")
        );
        assert_eq!(filter(0, Some("warn".into())).unwrap().to_string(), "warn");
        assert_eq!(
            filter(3, Some("aws_config=debug".into()))
                .unwrap()
                .to_string(),
            "aws_config=debug"
        );
    }
}
