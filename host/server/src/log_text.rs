//! The fields of the text log format (`--log-format text`), control characters escaped.
//!
//! Every field of an event or span, the message included, goes through
//! [`escape_controls`]: text a guest controls (its log lines, its error messages) cannot end a
//! log line and forge the next one. The JSON format needs none of this: JSON strings escape
//! their control characters.

use std::fmt;

use karman_protocol::escape_controls;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};

/// The default text fields, written out escaped.
#[derive(Default)]
pub(crate) struct EscapedFields(DefaultFields);

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut line = String::new();
        self.0.format_fields(Writer::new(&mut line), fields)?;
        writer.write_str(&escape_controls(&line))
    }
}
