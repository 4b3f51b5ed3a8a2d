//! Everything the user sees or answers: the one `Reporter` every command is handed (`output`),
//! how things look (`render`, pure), the one place that asks (`prompt`), and the install wizard's
//! questions (`wizard`). Nothing else in the crate writes to the terminal.

pub mod output;
pub mod prompt;
pub mod render;
pub mod wizard;
