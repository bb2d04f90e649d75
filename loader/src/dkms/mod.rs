//! DKMS: the tree it keeps (`/var/lib/dkms`), the text it prints, and running it.

pub mod others;
pub mod run;
pub mod status_text;
pub mod tree;

pub use run::Dkms;
pub use tree::{conf_module_names, log_tail, read_module, Build, Module, Registered, State};
