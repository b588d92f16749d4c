//! Colour policy for terminal output.
//!
//! The CLI decides once whether colour is on (`--color`, `NO_COLOR`, TTY detection) and hands a
//! [`Style`] to renderers, which never look at the environment themselves.

/// Whether to emit ANSI colour codes, and helpers to apply them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    /// Emit ANSI escape sequences.
    pub color: bool,
}

impl Style {
    /// Colour on.
    pub const COLOR: Style = Style { color: true };
    /// Colour off.
    pub const PLAIN: Style = Style { color: false };

    fn paint(self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// Bold red, for leaks.
    pub fn bad(self, s: &str) -> String {
        self.paint("1;31", s)
    }

    /// Green, for no leak.
    pub fn good(self, s: &str) -> String {
        self.paint("32", s)
    }

    /// Yellow, for inconclusive verdicts and warnings.
    pub fn warn(self, s: &str) -> String {
        self.paint("33", s)
    }

    /// Bold, for headings.
    pub fn bold(self, s: &str) -> String {
        self.paint("1", s)
    }

    /// Dim, for secondary details.
    pub fn dim(self, s: &str) -> String {
        self.paint("2", s)
    }
}
