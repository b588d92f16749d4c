//! Terminal policy: colour, progress bars, and where human output goes.
//!
//! Progress is drawn on stderr only when stderr is a terminal and `--quiet` is off, so pipes and
//! CI logs never receive escape sequences. Colour follows `--color` and `NO_COLOR`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use leakhound_report::Style;

use crate::args::{ColorChoice, GlobalArgs};

/// Output settings derived once from the global flags.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    pub(crate) style: Style,
    pub(crate) quiet: bool,
    progress: bool,
    /// Colour in the progress display on stderr: not with `--color never` or `NO_COLOR`.
    progress_color: bool,
}

impl Output {
    pub(crate) fn from_args(g: &GlobalArgs) -> Output {
        let color = match g.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        };
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            style: Style { color },
            quiet: g.quiet,
            progress: !g.quiet && std::io::stderr().is_terminal(),
            progress_color: match g.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => !no_color_env,
            },
        }
    }

    /// A status line on stderr (suppressed by `--quiet`). While a progress bar is drawn, the
    /// line is printed above it (the bar is cleared and redrawn), so neither is cut.
    pub(crate) fn status(&self, msg: &str) {
        if self.quiet {
            return;
        }
        let bar = ACTIVE_BAR
            .lock()
            .ok()
            .and_then(|b| b.as_ref().and_then(indicatif::WeakProgressBar::upgrade));
        match bar {
            Some(pb) if !pb.is_finished() && !pb.is_hidden() => pb.suspend(|| eprintln!("{msg}")),
            _ => eprintln!("{msg}"),
        }
    }

    /// A progress bar of `total` seconds, or a spinner without a total; hidden when not on a TTY.
    pub(crate) fn progress(&self, total: Option<Duration>) -> ProgressBar {
        if !self.progress {
            return ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        }
        let pb = match total {
            Some(d) => {
                let pb = ProgressBar::new(d.as_secs().max(1));
                pb.set_style(
                    ProgressStyle::with_template(if self.progress_color {
                        "{spinner:.cyan} {elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len}s {wide_msg}"
                    } else {
                        "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len}s {wide_msg}"
                    })
                    .expect("progress template is a valid constant")
                    .progress_chars("=> "),
                );
                pb
            }
            None => {
                let pb = ProgressBar::new_spinner();
                pb.set_style(
                    ProgressStyle::with_template(if self.progress_color {
                        "{spinner:.cyan} {elapsed_precise} {wide_msg}"
                    } else {
                        "{spinner} {elapsed_precise} {wide_msg}"
                    })
                    .expect("progress template is a valid constant"),
                );
                pb
            }
        };
        pb.enable_steady_tick(Duration::from_millis(200));
        if let Ok(mut active) = ACTIVE_BAR.lock() {
            *active = Some(pb.downgrade());
        }
        pb
    }
}

/// The progress bar being drawn, if any, so status lines can print above it.
static ACTIVE_BAR: std::sync::Mutex<Option<indicatif::WeakProgressBar>> =
    std::sync::Mutex::new(None);

/// Standard output that a closed pipe does not stop: `leakhound report RUN | head -1` must
/// still exit with the verdict's code (1 for a leak), not fail on the first write after `head`
/// went away. Once the reader is gone, further output is dropped.
pub(crate) struct Stdout {
    inner: std::io::StdoutLock<'static>,
    closed: bool,
}

/// Standard output, locked, that ignores a closed pipe (see [`Stdout`]).
pub(crate) fn stdout() -> Stdout {
    Stdout {
        inner: std::io::stdout().lock(),
        closed: false,
    }
}

impl std::io::Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            r => r,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            r => r,
        }
    }
}
